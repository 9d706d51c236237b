package dev.spillway.cli;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A PostgreSQL server this test owns, shared by several broker processes as their external
 * database ({@code SPILLWAY_DATABASE_URL}): what an operator's PostgreSQL is to brokers on
 * Kubernetes. Durable as the brokers need it (fsync and synchronous commit on); restartable on the
 * same port and data directory, as a database failover or restart looks to its clients.
 */
final class SharedDatabase implements AutoCloseable {

    private final Path dir;
    private final int port;
    private EmbeddedPostgres server;

    private SharedDatabase(Path dir, int port) {
        this.dir = dir;
        this.port = port;
    }

    static SharedDatabase start(Path dir) throws IOException {
        Files.createDirectories(dir);
        SharedDatabase db = new SharedDatabase(dir, LocalCluster.freePort());
        db.startServer();
        return db;
    }

    private void startServer() throws IOException {
        server = EmbeddedPostgres.builder()
                .setOverrideWorkingDirectory(dir.resolve("runtime").toFile())
                .setDataDirectory(dir.resolve("data"))
                .setCleanDataDirectory(false)
                .setPort(port)
                .setServerConfig("listen_addresses", "127.0.0.1")
                .setServerConfig("unix_socket_directories", "")
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("fsync", "on")
                .setServerConfig("max_connections", "100")
                .setPGStartupWait(Duration.ofSeconds(60))
                .start();
    }

    /** The URL brokers are given (the server trusts connections from this machine: the password is not checked, but the broker requires one). */
    String url() {
        return "postgresql://postgres:unused@127.0.0.1:" + port + "/postgres";
    }

    /** Stops the server (fast shutdown: sessions are cut, as in a database failover), then starts it again on the same port and data. */
    void restart(Duration down) throws IOException, InterruptedException {
        server.close();
        Thread.sleep(down.toMillis()); // the outage itself: nothing to wait for, the database is simply away this long
        startServer();
    }

    /** Rows of a query, each as its columns' strings. */
    List<List<String>> query(String sql) throws SQLException {
        try (Connection c = server.getPostgresDatabase().getConnection();
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery(sql)) {
            List<List<String>> rows = new ArrayList<>();
            int n = r.getMetaData().getColumnCount();
            while (r.next()) {
                List<String> row = new ArrayList<>(n);
                for (int i = 1; i <= n; i++) row.add(r.getString(i));
                rows.add(row);
            }
            return rows;
        }
    }

    long count(String sql) throws SQLException {
        return Long.parseLong(query(sql).get(0).get(0));
    }

    @Override
    public void close() throws IOException {
        if (server != null) server.close();
    }
}
