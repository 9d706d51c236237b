package dev.spillway.cli;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * The credential the CLI presents, found in this order: {@code --token}, the environment variable
 * {@code SPILLWAY_TOKEN}, the file named by {@code --token-file} or {@code SPILLWAY_TOKEN_FILE},
 * {@code token} or {@code token-file} in {@code ~/.spillway/config}, and last the admin key a
 * local {@code spillway up} writes ({@code ~/.spillway/admin-key}). {@link #source} says where it
 * came from, for error messages; the secret itself is never printed.
 */
record CallerToken(String secret, String source) {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    static Path home() {
        return Path.of(System.getProperty("user.home"), ".spillway");
    }

    static CallerToken resolve(String option, String fileOption, Map<String, String> env) {
        if (option != null && !option.isBlank()) return new CallerToken(option.trim(), "--token");
        String fromEnv = env.get("SPILLWAY_TOKEN");
        if (fromEnv != null && !fromEnv.isBlank()) return new CallerToken(fromEnv.trim(), "SPILLWAY_TOKEN");
        if (fileOption != null) return read(Path.of(fileOption), "--token-file " + fileOption);
        String fileEnv = env.get("SPILLWAY_TOKEN_FILE");
        if (fileEnv != null && !fileEnv.isBlank()) return read(Path.of(fileEnv), "SPILLWAY_TOKEN_FILE " + fileEnv);
        Path config = home().resolve("config");
        Optional<String> token = config("token");
        if (token.isPresent()) return new CallerToken(token.get(), config + " (token)");
        Optional<String> tokenFile = config("token-file");
        if (tokenFile.isPresent()) return read(Path.of(tokenFile.get()), config + " (token-file)");
        Path adminKey = home().resolve("admin-key");
        if (Files.isReadable(adminKey)) return read(adminKey, adminKey.toString());
        return new CallerToken(null, "none (no --token, SPILLWAY_TOKEN, token file, ~/.spillway/config or ~/.spillway/admin-key)");
    }

    /** A setting of {@code ~/.spillway/config} (Java properties: token, token-file, ca-file). */
    static Optional<String> config(String key) {
        Path config = home().resolve("config");
        if (!Files.isRegularFile(config)) return Optional.empty();
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(config)) {
            p.load(r);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + config, e);
        }
        return Optional.ofNullable(p.getProperty(key)).map(String::trim).filter(v -> !v.isEmpty());
    }

    static CallerToken read(Path file, String source) {
        try {
            return new CallerToken(Files.readString(file).trim(), source);
        } catch (IOException e) {
            throw new Spillway.CliException(Spillway.INVALID, "cannot read the token file " + file + " (" + e.getMessage() + ")");
        }
    }

    /** Adds {@code authorization: Bearer ...} to every call; nothing when there is no credential. */
    ClientInterceptor interceptor() {
        Metadata headers = new Metadata();
        if (secret != null) headers.put(AUTHORIZATION, "Bearer " + secret);
        return MetadataUtils.newAttachHeadersInterceptor(headers);
    }
}
