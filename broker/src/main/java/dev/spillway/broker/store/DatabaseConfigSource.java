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
 *       default {@code ~/.spillway}), and stopped when the JVM exits. It listens on 127.0.0.1 only
 *       (no Unix socket) and admits only the password in {@code <data dir>/db-password} (mode 0600,
 *       generated on first start), by SCRAM-SHA-256; see {@link EmbeddedDatabaseAccess}. Commits are
 *       durable: {@code synchronous_commit} and {@code fsync} are on (the embedded library turns both
 *       off, as suits throwaway test databases; an acknowledged submission must survive a crash).</li>
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
     * are listed; the embedded one's are not (listing them could start it during the build, and the
     * build would keep the password as a default): {@link DatabaseCredentials} hands its user and
     * password to the datasources instead.
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
        if (name.equals(USERNAME)) return EmbeddedDatabaseAccess.USER;
        // Only once this JVM runs the embedded server: a database configured some other way never gets its password.
        if (name.equals(PASSWORD)) return System.getProperty(STARTED_URL) == null ? null : EmbeddedDatabaseAccess.password(passwordFile());
        int port = embeddedPort();
        return switch (name) {
            case REACTIVE_URL -> "postgresql://127.0.0.1:" + port + "/postgres";
            default -> "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
        };
    }

    /** Whether this JVM started the embedded PostgreSQL it uses: a database no other broker can share. */
    public static boolean embeddedStarted() {
        return System.getProperty(STARTED_URL) != null;
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
        Path dataDir = dataDir();
        try {
            EmbeddedPostgres pg = startEmbedded(dataDir);
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
            throw new UncheckedIOException("cannot start embedded PostgreSQL under " + dataDir.resolve("postgres"), e);
        }
    }

    /**
     * Starts the embedded PostgreSQL of a Spillway data directory: binaries and data under {@code postgres/}, the
     * password in {@code db-password} (created on first start), an existing data directory (from any earlier version)
     * kept and brought up to the current access rules. The caller stops it.
     */
    static EmbeddedPostgres startEmbedded(Path dataDir) throws IOException {
        Path dir = dataDir.resolve("postgres");
        Files.createDirectories(dir);
        String password = EmbeddedDatabaseAccess.password(dataDir.resolve("db-password"));
        stopLeftoverServer(dir.resolve("data"));
        Path runtime = dir.resolve("runtime");
        return EmbeddedPostgres.builder()
                .setOverrideWorkingDirectory(runtime.toFile())
                .setDataDirectory(dir.resolve("data"))
                .setCleanDataDirectory(false)
                // Runs after initdb (or on the existing directory), before the server starts.
                .setDataDirectoryCustomizer(data -> EmbeddedDatabaseAccess.require(data.toPath(), runtime, password))
                .setServerConfig("listen_addresses", "127.0.0.1")
                .setServerConfig("unix_socket_directories", "")
                .setServerConfig("password_encryption", "scram-sha-256")
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("fsync", "on")
                .setServerConfig("max_connections", "100")
                // The library's readiness check connects as the superuser too.
                .setConnectConfig("password", password)
                .setPGStartupWait(Duration.ofSeconds(60))
                .start();
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

    /** Where the embedded database's password is kept (mode 0600). */
    public static Path passwordFile() {
        return dataDir().resolve("db-password");
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
