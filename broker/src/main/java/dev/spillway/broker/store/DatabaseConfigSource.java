package dev.spillway.broker.store;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * Chooses the broker's PostgreSQL and answers the Quarkus datasource settings for it.
 *
 * <ul>
 *   <li>With {@code SPILLWAY_DATABASE_URL} (or {@code -Dspillway.database.url}) set to
 *       {@code postgresql://user:password@host:port/database}, that server is used.</li>
 *   <li>Otherwise an embedded PostgreSQL is started on first use, with binaries and data under
 *       {@code <data dir>/postgres} ({@code SPILLWAY_DATA_DIR}, {@code -Dspillway.data-dir},
 *       default {@code ~/.spillway}), listening on loopback only, and stopped when the JVM exits.</li>
 * </ul>
 * The ordinal is low, so explicit {@code quarkus.datasource.*} settings still win. This source is
 * read before CDI exists, hence system properties and environment rather than config mapping.
 * The embedded server's URL is kept in a system property because Quarkus loads this class in
 * more than one class loader.
 */
public class DatabaseConfigSource implements ConfigSource {

    static final String STARTED_URL = "dev.spillway.embedded-postgres.port";
    private static final String REACTIVE_URL = "quarkus.datasource.reactive.url";
    private static final String JDBC_URL = "quarkus.datasource.jdbc.url";
    private static final String USERNAME = "quarkus.datasource.username";
    private static final String PASSWORD = "quarkus.datasource.password";
    private static final Set<String> ANSWERS = Set.of(REACTIVE_URL, JDBC_URL, USERNAME, PASSWORD);

    /**
     * Quarkus looks credentials up only under names a source lists. An external database's names
     * are listed; the embedded one's are not (listing them could start it during the build), and
     * its URL carries the user instead.
     */
    @Override
    public Set<String> getPropertyNames() {
        return setting("spillway.database.url", "SPILLWAY_DATABASE_URL").isPresent() ? ANSWERS : Set.of();
    }

    @Override
    public int getOrdinal() {
        return 50;
    }

    @Override
    public String getName() {
        return "spillway-database";
    }

    @Override
    public String getValue(String name) {
        if (!ANSWERS.contains(name)) return null;
        Optional<URI> external = setting("spillway.database.url", "SPILLWAY_DATABASE_URL").map(DatabaseConfigSource::parse);
        if (external.isPresent()) return external(external.get(), name);
        int port = embeddedPort();
        return switch (name) {
            case REACTIVE_URL -> "postgresql://postgres@127.0.0.1:" + port + "/postgres";
            case JDBC_URL -> "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres";
            case USERNAME -> "postgres";
            default -> null; // trust authentication on loopback
        };
    }

    private static String external(URI uri, String name) {
        String[] userInfo = uri.getUserInfo() == null ? new String[0] : uri.getUserInfo().split(":", 2);
        String hostPart = uri.getHost() + (uri.getPort() > 0 ? ":" + uri.getPort() : "") + uri.getPath()
                + (uri.getQuery() == null ? "" : "?" + uri.getQuery());
        return switch (name) {
            case REACTIVE_URL -> "postgresql://" + hostPart;
            case JDBC_URL -> "jdbc:postgresql://" + hostPart;
            case USERNAME -> userInfo.length > 0 ? userInfo[0] : null;
            default -> userInfo.length > 1 ? userInfo[1] : null;
        };
    }

    private static URI parse(String url) {
        URI uri = URI.create(url.startsWith("jdbc:") ? url.substring(5) : url);
        if (!"postgresql".equals(uri.getScheme()) && !"postgres".equals(uri.getScheme())) {
            throw new IllegalArgumentException("SPILLWAY_DATABASE_URL must look like postgresql://user:password@host:port/database");
        }
        return uri;
    }

    private static synchronized int embeddedPort() {
        String started = System.getProperty(STARTED_URL);
        if (started != null) return Integer.parseInt(started);
        Path dir = dataDir().resolve("postgres");
        try {
            Files.createDirectories(dir);
            stopLeftoverServer(dir.resolve("data"));
            EmbeddedPostgres pg = EmbeddedPostgres.builder()
                    .setOverrideWorkingDirectory(dir.resolve("runtime").toFile())
                    .setDataDirectory(dir.resolve("data"))
                    .setCleanDataDirectory(false)
                    .setServerConfig("listen_addresses", "127.0.0.1")
                    .setServerConfig("max_connections", "100")
                    .setPGStartupWait(Duration.ofSeconds(60))
                    .start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    pg.close();
                } catch (IOException ignored) {
                    // the JVM is exiting; the next start stops a leftover server itself
                }
            }, "embedded-postgres-stop"));
            System.setProperty(STARTED_URL, Integer.toString(pg.getPort()));
            return pg.getPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start embedded PostgreSQL under " + dir, e);
        }
    }

    /**
     * A broker killed with SIGKILL leaves its PostgreSQL running on the data directory. Stop that
     * server (by the pid it recorded, and only if that process is a postgres) before starting anew.
     */
    private static void stopLeftoverServer(Path dataDir) throws IOException {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) return;
        String first = Files.readAllLines(pidFile).stream().findFirst().orElse("").trim();
        if (!first.matches("\\d+")) return;
        ProcessHandle.of(Long.parseLong(first))
                .filter(p -> p.info().command().map(c -> c.contains("postgres")).orElse(false))
                .ifPresent(p -> {
                    p.destroy(); // SIGTERM: PostgreSQL's smart shutdown
                    try {
                        p.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (Exception e) {
                        p.destroyForcibly();
                    }
                });
    }

    public static Path dataDir() {
        return setting("spillway.data-dir", "SPILLWAY_DATA_DIR")
                .map(Path::of)
                .orElse(Path.of(System.getProperty("user.home"), ".spillway"));
    }

    private static Optional<String> setting(String property, String env) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) v = System.getenv(env);
        return v == null || v.isBlank() ? Optional.empty() : Optional.of(v);
    }

    @Override
    public Map<String, String> getProperties() {
        return Map.of();
    }
}
