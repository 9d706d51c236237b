package dev.spillway.agent;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How this agent reaches the broker: over TLS, verifying the broker's certificate against the CA
 * in {@code --ca-file} (or, without it, the JVM's trusted CAs), or in plaintext, only when asked
 * with {@code --insecure}. The broker's host name (or IP address) in {@code --broker} must be one
 * its certificate names.
 *
 * @param caFile   the CA certificate(s), PEM, that sign the broker's certificate
 * @param insecure plaintext, explicitly
 */
record BrokerTrust(Optional<Path> caFile, boolean insecure) {

    /** What an agent given neither option does: TLS, trusting the JVM's CAs (brokers serve TLS by default). */
    static final boolean TLS_BY_DEFAULT = true;

    BrokerTrust {
        if (insecure && caFile.isPresent()) throw new IllegalArgumentException("--ca-file and --insecure exclude each other");
        caFile.ifPresent(f -> {
            if (!Files.isReadable(f)) throw new IllegalArgumentException("cannot read the broker CA file " + f);
        });
    }

    /** From the command line: {@code --ca-file} (may be null) and {@code --insecure}. */
    static BrokerTrust of(Path caFile, boolean insecure) {
        return new BrokerTrust(Optional.ofNullable(caFile), insecure);
    }

    boolean tls() {
        return !insecure && (caFile.isPresent() || TLS_BY_DEFAULT);
    }

    /** The gRPC channel credentials for this choice. */
    ChannelCredentials credentials() {
        if (!tls()) return InsecureChannelCredentials.create();
        if (caFile.isEmpty()) return TlsChannelCredentials.create();
        try {
            return TlsChannelCredentials.newBuilder().trustManager(caFile.get().toFile()).build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the broker CA file " + caFile.get(), e);
        }
    }

    /** For the log: what the connection trusts. */
    String describe() {
        if (insecure) return "plaintext (--insecure): the broker is not verified and the traffic is readable on the network";
        if (!tls()) return "plaintext (no --ca-file): the broker is not verified and the traffic is readable on the network";
        return caFile.map(f -> "TLS, trusting the CA in " + f).orElse("TLS, trusting the JVM's CAs");
    }
}
