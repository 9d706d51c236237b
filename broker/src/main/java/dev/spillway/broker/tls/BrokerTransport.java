package dev.spillway.broker.tls;

import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Function;

/**
 * How the broker's one port (gRPC, REST, health, metrics) is served, decided from these settings
 * (each also an environment variable, {@code SPILLWAY_TLS_ENABLED} and so on):
 *
 * <ul>
 *   <li>{@code spillway.tls.enabled} (default {@code true}): serve TLS only. Without the next two settings the broker
 *       makes a private CA and a server certificate in {@code <spillway.data-dir>/tls} on first
 *       start ({@link BrokerCertificates}); clients, agents ({@code --ca-file}) and cloud boot
 *       scripts trust {@code <spillway.data-dir>/tls/ca.pem}.</li>
 *   <li>{@code spillway.tls.cert-file}, {@code spillway.tls.key-file}: the enterprise's own
 *       certificate chain and private key (PEM) instead; nothing is generated.</li>
 *   <li>{@code spillway.tls.ca-file}: with an own certificate, the CA certificate(s) that clients
 *       and cloud boot scripts should trust (default: {@code cert-file} itself).</li>
 *   <li>{@code spillway.insecure}: plaintext, explicitly, whatever {@code spillway.tls.enabled}
 *       says (labs only; the broker says so loudly at start).</li>
 * </ul>
 *
 * @param tls      whether the port speaks TLS only
 * @param generated whether the certificate is the broker's own (else the enterprise's)
 * @param certFile the server certificate chain (PEM), when {@code tls}
 * @param keyFile  its private key (PEM), when {@code tls}
 * @param caFile   what clients trust, when {@code tls}
 * @param explicitlyInsecure whether plaintext was asked for with {@code spillway.insecure}
 */
public record BrokerTransport(boolean tls, boolean generated, Path certFile, Path keyFile, Path caFile, boolean explicitlyInsecure) {

    static final String ENABLED = "spillway.tls.enabled";
    static final String CERT_FILE = "spillway.tls.cert-file";
    static final String KEY_FILE = "spillway.tls.key-file";
    static final String CA_FILE = "spillway.tls.ca-file";
    static final String INSECURE = "spillway.insecure";

    /**
     * Decides from {@code setting} (a configuration lookup) with the data directory {@code dataDir};
     * refuses half an enterprise configuration (a certificate without its key, or the reverse).
     */
    public static BrokerTransport decide(Function<String, Optional<String>> setting, Path dataDir) {
        boolean insecure = setting.apply(INSECURE).map(Boolean::parseBoolean).orElse(false);
        boolean enabled = setting.apply(ENABLED).map(Boolean::parseBoolean).orElse(true);
        Optional<Path> cert = setting.apply(CERT_FILE).filter(s -> !s.isBlank()).map(Path::of);
        Optional<Path> key = setting.apply(KEY_FILE).filter(s -> !s.isBlank()).map(Path::of);
        if (cert.isPresent() != key.isPresent()) {
            throw new IllegalStateException("set both " + CERT_FILE + " and " + KEY_FILE + " (PEM files of the broker's certificate chain "
                    + "and its private key), or neither to have the broker make its own CA and certificate");
        }
        if (insecure || !enabled) return new BrokerTransport(false, false, null, null, null, insecure);
        if (cert.isPresent()) {
            return new BrokerTransport(true, false, cert.get(), key.get(), setting.apply(CA_FILE).filter(s -> !s.isBlank()).map(Path::of)
                    .orElse(cert.get()), false);
        }
        BrokerCertificates own = new BrokerCertificates(tlsDir(dataDir), dev.spillway.broker.config.Clocks.system());
        return new BrokerTransport(true, true, own.serverCertFile(), own.serverKeyFile(), own.caFile(), false);
    }

    static Path tlsDir(Path dataDir) {
        return dataDir.resolve("tls");
    }

    /** {@code https} or {@code http}. */
    public String scheme() {
        return tls ? "https" : "http";
    }

    /** The CA certificate(s) clients and boot scripts trust, as PEM text; empty in plaintext. */
    public Optional<String> caPem() {
        return tls ? Optional.of(BrokerCertificates.readPem(caFile)) : Optional.empty();
    }
}
