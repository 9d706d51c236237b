package dev.spillway.broker.store;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;

/** The store contract on embedded PostgreSQL: runs everywhere, Docker or not. */
class EmbeddedPostgresStoreTest extends StoreContractTest {

    private EmbeddedPostgres pg;

    @Override
    String[] database() {
        try {
            pg = EmbeddedPostgres.builder()
                    .setOverrideWorkingDirectory(Path.of("target", "embedded-pg-runtime").toFile())
                    .start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start embedded PostgreSQL", e);
        }
        return new String[] {pg.getJdbcUrl("postgres", "postgres"), "postgres", ""};
    }

    @AfterAll
    void stopDatabase() throws IOException {
        if (pg != null) pg.close();
    }
}
