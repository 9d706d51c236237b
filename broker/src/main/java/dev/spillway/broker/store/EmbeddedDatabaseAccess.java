package dev.spillway.broker.store;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.lang.reflect.Field;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Who may log into the embedded PostgreSQL: only whoever can read {@code <data-dir>/db-password}.
 *
 * <p>The password is generated once (32 random bytes, URL-safe base64) into a file of mode 0600. Before each start of
 * the server, with the data directory locked and no server running, {@link #require} replaces {@code pg_hba.conf} by
 * SCRAM-SHA-256 lines only (no {@code trust}, which the embedded library's {@code initdb} writes and which earlier
 * Spillway versions kept) and sets the {@code postgres} role's password in single-user mode, which opens no socket:
 * there is no moment when the server accepts connections without the password. A data directory from an earlier version
 * is upgraded this way in place. The server itself only ever receives a SCRAM verifier, never the password, and nothing
 * here logs either.
 */
public final class EmbeddedDatabaseAccess {

    /** The superuser the broker connects as. */
    public static final String USER = "postgres";

    static final String HBA = """
            # Written by Spillway on every start of the embedded PostgreSQL: every connection authenticates with
            # SCRAM-SHA-256 using the password in <data-dir>/db-password. Edits here are replaced.
            local   all   all                  scram-sha-256
            host    all   all   127.0.0.1/32   scram-sha-256
            host    all   all   ::1/128        scram-sha-256
            """;

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final int SCRAM_ITERATIONS = 4096;
    private static final SecureRandom RANDOM = new SecureRandom();

    private EmbeddedDatabaseAccess() {}

    /** The password in {@code file}, creating the file (mode 0600) with a new random password if there is none. */
    public static String password(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            if (!Files.exists(file)) {
                byte[] secret = new byte[32];
                RANDOM.nextBytes(secret);
                String generated = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
                try {
                    Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
                    Files.writeString(file, generated + "\n");
                    return generated;
                } catch (FileAlreadyExistsException raced) {
                    // another process created it first: use theirs
                }
            }
            if (!Files.getPosixFilePermissions(file).equals(OWNER_ONLY)) Files.setPosixFilePermissions(file, OWNER_ONLY);
            String stored = Files.readString(file).strip();
            if (stored.isEmpty()) throw new IllegalStateException(file + " is empty; delete it to have a new password generated");
            return stored;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the database password file " + file, e);
        }
    }

    /**
     * Makes the stopped server in {@code dataDir} accept only {@code password}, by SCRAM-SHA-256: rewrites
     * {@code pg_hba.conf} and sets the superuser's password with {@code postgres} in single-user mode (the binaries the
     * embedded library uses, else those under {@code runtimeDir}).
     */
    public static void require(Path dataDir, Path runtimeDir, String password) {
        try {
            Files.writeString(dataDir.resolve("pg_hba.conf"), HBA);
            setPassword(dataDir, postgresBinary(runtimeDir), scramVerifier(password));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot set up password authentication in " + dataDir, e);
        }
    }

    /**
     * The {@code postgres} executable the embedded library runs. It unpacks its binaries once per JVM and keeps their
     * directory in a private static cache (a second server in the same JVM, as in tests, reuses the first one's), so
     * that cache is read first; the {@code PG-*} directories under {@code runtimeDir} are the fallback.
     */
    private static Path postgresBinary(Path runtimeDir) throws IOException {
        List<Path> candidates = new ArrayList<>();
        for (File dir : unpackedByTheLibrary()) candidates.add(dir.toPath());
        if (Files.isDirectory(runtimeDir)) {
            try (Stream<Path> dirs = Files.list(runtimeDir)) {
                dirs.sorted(Comparator.comparing((Path d) -> d.toFile().lastModified()).reversed()).forEach(candidates::add);
            }
        }
        return candidates.stream().map(d -> d.resolve("bin").resolve("postgres")).filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new IOException("no PostgreSQL binaries found (looked in " + candidates + ")"));
    }

    private static List<File> unpackedByTheLibrary() {
        try {
            Field cache = EmbeddedPostgres.class.getDeclaredField("PREPARE_BINARIES");
            cache.setAccessible(true);
            Object map = cache.get(null);
            if (!(map instanceof Map<?, ?> m)) return List.of();
            List<File> dirs = new ArrayList<>();
            for (Object v : List.copyOf(m.values())) if (v instanceof File f) dirs.add(f);
            return dirs;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return List.of(); // another library version: the runtime directory is searched instead
        }
    }

    private static void setPassword(Path dataDir, Path postgres, String verifier) throws IOException {
        List<String> command = new ArrayList<>();
        // As root, the embedded library runs PostgreSQL (which refuses root) in a user namespace; do the same.
        if (isRoot() && io.zonky.test.db.postgres.util.LinuxUtils.isUnshareAvailable()) command.addAll(List.of("unshare", "-U"));
        command.addAll(List.of(postgres.toString(), "--single", "-D", dataDir.toString(), "-c", "password_encryption=scram-sha-256", USER));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            // The statement goes through stdin, never the command line; it carries the verifier, not the password.
            in.write(("ALTER ROLE " + USER + " PASSWORD '" + verifier + "'\n").getBytes(StandardCharsets.UTF_8));
        }
        String output = drain(p.getInputStream());
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("PostgreSQL in single-user mode did not finish within 60 s in " + dataDir);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while setting the database password", e);
        }
        if (p.exitValue() != 0 || output.contains("ERROR:") || output.contains("FATAL:")) {
            String shown = output.lines().filter(l -> !l.contains("SCRAM-SHA-256$")).reduce("", (a, b) -> a + "\n  " + b);
            throw new IOException("PostgreSQL in single-user mode could not set the password (exit " + p.exitValue() + "):" + shown);
        }
    }

    private static String drain(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toString(StandardCharsets.UTF_8);
    }

    private static boolean isRoot() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            return Integer.valueOf(0).equals(uid);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /**
     * The SCRAM-SHA-256 verifier PostgreSQL stores for {@code password} (RFC 5802/7677, PostgreSQL's
     * {@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>} form), with a fresh random salt. The password is
     * ASCII, so SASLprep leaves it as it is.
     */
    static String scramVerifier(String password) {
        try {
            byte[] salt = new byte[16];
            RANDOM.nextBytes(salt);
            PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, SCRAM_ITERATIONS, 256);
            byte[] salted = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            spec.clearPassword();
            byte[] clientKey = hmac(salted, "Client Key");
            byte[] storedKey = MessageDigest.getInstance("SHA-256").digest(clientKey);
            byte[] serverKey = hmac(salted, "Server Key");
            Base64.Encoder b64 = Base64.getEncoder();
            return "SCRAM-SHA-256$" + SCRAM_ITERATIONS + ":" + b64.encodeToString(salt) + "$" + b64.encodeToString(storedKey) + ":"
                    + b64.encodeToString(serverKey);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SCRAM-SHA-256 is not available in this JVM", e);
        }
    }

    private static byte[] hmac(byte[] key, String message) throws GeneralSecurityException {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        return mac.doFinal(message.getBytes(StandardCharsets.US_ASCII));
    }
}
