package dev.spillway.broker.store;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

/**
 * The store contract on PostgreSQL 16 in a container. Skipped, with the reason printed, where no
 * Docker engine answers; {@link EmbeddedPostgresStoreTest} runs the same tests there.
 */
class TestcontainersPostgresStoreTest extends StoreContractTest {

    private PostgreSQLContainer container;

    @Override
    String[] database() {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        if (!docker) {
            String reason = "no Docker engine answers here; the same store tests ran on embedded PostgreSQL (EmbeddedPostgresStoreTest)";
            System.out.println("SKIPPED " + getClass().getSimpleName() + ": " + reason);
            Assumptions.abort(reason);
        }
        container = new PostgreSQLContainer("postgres:16-alpine");
        container.start();
        return new String[] {container.getJdbcUrl(), container.getUsername(), container.getPassword()};
    }

    @AfterAll
    void stopContainer() {
        if (container != null) container.stop();
    }
}
