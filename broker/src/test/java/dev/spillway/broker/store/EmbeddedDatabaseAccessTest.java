package dev.spillway.broker.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The embedded PostgreSQL admits only the password kept in the data directory, listens on loopback only and commits
 * durably; a data directory made by an earlier Spillway (trust authentication) is upgraded in place, its data kept.
 */
class EmbeddedDatabaseAccessTest {

    @Test
    void anEarlierTrustDirectoryIsUpgradedAndThenOnlyThePasswordGetsIn() throws Exception {
        Path dataDir = Path.of("target", "embedded-access-" + UUID.randomUUID()).toAbsolutePath();
        Path pgData = dataDir.resolve("postgres").resolve("data");

        // The data directory as earlier versions left it: the library's initdb, trust for every connection.
        try (EmbeddedPostgres old = EmbeddedPostgres.builder()
                .setOverrideWorkingDirectory(dataDir.resolve("postgres").resolve("runtime").toFile())
                .setDataDirectory(pgData).setCleanDataDirectory(false)
                .setServerConfig("listen_addresses", "127.0.0.1").start();
             Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + old.getPort() + "/postgres", props("postgres", null));
             Statement s = c.createStatement()) {
            s.execute("CREATE TABLE kept (v text)");
            s.execute("INSERT INTO kept VALUES ('from before')");
        }
        assertThat(Files.readString(pgData.resolve("pg_hba.conf"))).containsPattern("(?m)^host\\s.*trust");

        String password;
        try (EmbeddedPostgres pg = DatabaseConfigSource.startEmbedded(dataDir)) {
            Path file = dataDir.resolve("db-password");
            assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            password = Files.readString(file).strip();
            assertThat(password).hasSizeGreaterThanOrEqualTo(40);
            String url = "jdbc:postgresql://127.0.0.1:" + pg.getPort() + "/postgres";

            refused(url, props("postgres", null));
            assertThat(refused(url, props("postgres", password + "x")).getSQLState()).isEqualTo("28P01"); // invalid_password
            refused(url, props("root", password));

            try (Connection c = DriverManager.getConnection(url, props("postgres", password)); Statement s = c.createStatement()) {
                assertThat(one(s, "SELECT v FROM kept")).isEqualTo("from before");
                assertThat(one(s, "SHOW synchronous_commit")).isEqualTo("on");
                assertThat(one(s, "SHOW fsync")).isEqualTo("on");
                assertThat(one(s, "SHOW password_encryption")).isEqualTo("scram-sha-256");
                assertThat(one(s, "SHOW listen_addresses")).isEqualTo("127.0.0.1");
                assertThat(one(s, "SHOW unix_socket_directories")).isEmpty();
                assertThat(one(s, "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")).startsWith("SCRAM-SHA-256$4096:");
                assertThat(one(s, "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method <> 'scram-sha-256' OR error IS NOT NULL")).isEqualTo("0");
            }
        }
        assertThat(Files.readString(pgData.resolve("pg_hba.conf"))).doesNotContain("trust");

        // Started again: the same password (the file is created once), still only it.
        try (EmbeddedPostgres pg = DatabaseConfigSource.startEmbedded(dataDir)) {
            assertThat(Files.readString(dataDir.resolve("db-password")).strip()).isEqualTo(password);
            String url = "jdbc:postgresql://127.0.0.1:" + pg.getPort() + "/postgres";
            try (Connection c = DriverManager.getConnection(url, props("postgres", password)); Statement s = c.createStatement()) {
                assertThat(one(s, "SELECT v FROM kept")).isEqualTo("from before");
            }
            refused(url, props("postgres", null));
        }
    }

    @Test
    void aNewDirectoryStartsWithThePasswordOnly() throws Exception {
        Path dataDir = Path.of("target", "embedded-access-" + UUID.randomUUID()).toAbsolutePath();
        try (EmbeddedPostgres pg = DatabaseConfigSource.startEmbedded(dataDir)) {
            String password = Files.readString(dataDir.resolve("db-password")).strip();
            String url = "jdbc:postgresql://127.0.0.1:" + pg.getPort() + "/postgres";
            refused(url, props("postgres", null));
            try (Connection c = DriverManager.getConnection(url, props("postgres", password)); Statement s = c.createStatement()) {
                assertThat(one(s, "SHOW synchronous_commit")).isEqualTo("on");
                assertThat(one(s, "SHOW fsync")).isEqualTo("on");
            }
        }
        assertThat(Files.readString(dataDir.resolve("postgres").resolve("data").resolve("pg_hba.conf"))).doesNotContain("trust");
    }

    @Test
    void theVerifierIsPostgresqlsScramForm() {
        String v = EmbeddedDatabaseAccess.scramVerifier("secret");
        assertThat(v).matches("SCRAM-SHA-256\\$4096:[A-Za-z0-9+/=]{24}\\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}");
        assertThat(v).doesNotContain("secret");
        assertThat(EmbeddedDatabaseAccess.scramVerifier("secret")).as("fresh salt each time").isNotEqualTo(v);
    }

    /** The connection's refusal (fails the test if the connection is made). */
    private static SQLException refused(String url, Properties props) {
        SQLException e = catchThrowableOfType(SQLException.class, () -> DriverManager.getConnection(url, props).close());
        assertThat((Throwable) e).as("refused: user %s, %s", props.getProperty("user"),
                props.containsKey("password") ? "a password" : "no password").isNotNull();
        return e;
    }

    private static Properties props(String user, String password) {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) p.setProperty("password", password);
        p.setProperty("connectTimeout", "10");
        return p;
    }

    private static String one(Statement s, String sql) throws SQLException {
        try (ResultSet r = s.executeQuery(sql)) {
            assertThat(r.next()).isTrue();
            return r.getString(1);
        }
    }
}
