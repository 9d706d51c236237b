package dev.spillway.broker.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The broker's own embedded PostgreSQL, as it runs under the tests: durable commits read back from the server, the
 * broker's connections get in with the generated password, others are refused.
 */
@QuarkusTest
class EmbeddedDatabaseSettingsTest {

    @Inject
    Pool pool;

    private String show(String setting) {
        return pool.query("SHOW " + setting).execute().await().indefinitely().iterator().next().getString(0);
    }

    @Test
    void commitsAreDurable() {
        assertThat(show("synchronous_commit")).isEqualTo("on");
        assertThat(show("fsync")).isEqualTo("on");
    }

    @Test
    void everyBrokerConnectionHasTheDefaultStatementTimeout() {
        assertThat(show("statement_timeout")).isEqualTo("30s");
        assertThat(show("idle_in_transaction_session_timeout")).isEqualTo("30s");
    }

    @Test
    void onlyTheBrokerWithThePasswordGetsIn() throws Exception {
        // The broker's own connections work (this query is one) and authenticated by SCRAM.
        assertThat(show("password_encryption")).isEqualTo("scram-sha-256");
        assertThat(show("listen_addresses")).isEqualTo("127.0.0.1");
        assertThat(Files.getPosixFilePermissions(DatabaseConfigSource.passwordFile())).isEqualTo(PosixFilePermissions.fromString("rw-------"));

        String url = "jdbc:postgresql://127.0.0.1:" + System.getProperty(DatabaseConfigSource.STARTED_URL) + "/postgres";
        SQLException none = catchThrowableOfType(SQLException.class, () -> DriverManager.getConnection(url, props(null)).close());
        assertThat((Throwable) none).as("no password").isNotNull();
        SQLException wrong = catchThrowableOfType(SQLException.class, () -> DriverManager.getConnection(url, props("not-the-password")).close());
        assertThat((Throwable) wrong).as("wrong password").isNotNull();
        assertThat(wrong.getSQLState()).isEqualTo("28P01");
    }

    private static Properties props(String password) {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        if (password != null) p.setProperty("password", password);
        p.setProperty("connectTimeout", "10");
        return p;
    }
}
