package dev.spillway.cli;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.Optional;
import javax.net.ssl.SSLContext;

/**
 * How the CLI reaches the broker's one port, for gRPC and for REST and health alike: over TLS,
 * verifying the broker's certificate against a CA file (the broker's own
 * {@code <data-dir>/tls/ca.pem}, or an enterprise CA) or against the JVM's trusted CAs; or in
 * plaintext, only when asked for explicitly ({@code --insecure}). The host in the broker address
 * must be a name the certificate carries (the broker's own names {@code localhost},
 * {@code 127.0.0.1}, its bind and its advertised address).
 *
 * <p>A CA file that cannot be read, or holds no certificate, is refused here rather than at the
 * first call, so the message names the file.
 */
public final class BrokerTls {

    /** Where a broker using data directory {@code dataDir} keeps the CA it made (see the broker's {@code BrokerCertificates}). */
    public static Path caFileIn(Path dataDir) {
        return dataDir.resolve("tls").resolve("ca.pem");
    }

    private final Optional<Path> caFile;
    private final boolean insecure;
    private final SSLContext sslContext;

    private BrokerTls(Optional<Path> caFile, boolean insecure) {
        this.caFile = caFile;
        this.insecure = insecure;
        this.sslContext = insecure ? null : caFile.map(BrokerTls::contextTrusting).orElseGet(BrokerTls::jvmDefault);
    }

    /** TLS, trusting only the CA certificate(s) in {@code caPem}. */
    public static BrokerTls trusting(Path caPem) {
        return new BrokerTls(Optional.of(caPem), false);
    }

    /** TLS, trusting the JVM's CAs (a broker whose certificate a public or enterprise-installed CA signs). */
    public static BrokerTls jvmTrust() {
        return new BrokerTls(Optional.empty(), false);
    }

    /** Plaintext: the broker is not verified and the traffic (credentials included) is readable on the network. */
    public static BrokerTls insecure() {
        return new BrokerTls(Optional.empty(), true);
    }

    /**
     * The CLI's usual choice: plaintext when {@code insecure}; else {@code caFile} when given; else
     * the CA of a broker on this machine using {@code dataDir}, when it has made one; else the
     * JVM's CAs.
     */
    public static BrokerTls choose(boolean insecure, Optional<Path> caFile, Path dataDir) {
        if (insecure) {
            if (caFile.isPresent()) throw new IllegalArgumentException("--ca-file and --insecure exclude each other");
            return insecure();
        }
        if (caFile.isPresent()) return trusting(caFile.get());
        Path local = caFileIn(dataDir);
        return Files.isRegularFile(local) ? trusting(local) : jvmTrust();
    }

    public boolean isInsecure() {
        return insecure;
    }

    /** The CA file trusted, when one is. */
    public Optional<Path> caFile() {
        return caFile;
    }

    /** {@code https}, or {@code http} when insecure. */
    public String scheme() {
        return insecure ? "http" : "https";
    }

    /** {@code scheme://hostPort/path} for a REST or health call. */
    public URI url(String hostPort, String path) {
        return URI.create(scheme() + "://" + hostPort + (path.startsWith("/") ? path : "/" + path));
    }

    /** gRPC credentials for this choice. */
    public ChannelCredentials channelCredentials() {
        if (insecure) return InsecureChannelCredentials.create();
        if (caFile.isEmpty()) return TlsChannelCredentials.create();
        try {
            return TlsChannelCredentials.newBuilder().trustManager(caFile.get().toFile()).build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the broker CA file " + caFile.get(), e);
        }
    }

    /**
     * A channel builder for the broker at {@code target} ({@code host:port}) for a command that
     * makes a few calls and exits; add interceptors and limits, then build. The OkHttp transport:
     * a command's time is mostly its start, and this transport loads a fraction of Netty's classes
     * (a {@code whoami} in 0.8 s rather than 1.3 s here).
     */
    public io.grpc.ManagedChannelBuilder<?> channelBuilder(String target) {
        return io.grpc.okhttp.OkHttpChannelBuilder.forTarget(target, channelCredentials());
    }

    /** A channel builder on the Netty transport, for long runs that send many calls at once (the benchmarks' clients). */
    public NettyChannelBuilder nettyChannelBuilder(String target) {
        return NettyChannelBuilder.forTarget(target, channelCredentials());
    }

    /** The TLS context for HTTPS calls; empty when insecure. */
    public Optional<SSLContext> sslContext() {
        return Optional.ofNullable(sslContext);
    }

    /** An HTTP client builder for the broker's REST and health endpoints (use {@link #url} for the addresses). */
    public HttpClient.Builder httpClient() {
        HttpClient.Builder b = HttpClient.newBuilder();
        sslContext().ifPresent(b::sslContext);
        return b;
    }

    private static SSLContext contextTrusting(Path caPem) {
        return dev.spillway.client.TrustedCas.in(caPem, "the broker CA file");
    }

    private static SSLContext jvmDefault() {
        try {
            return SSLContext.getDefault();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JVM has no default TLS context", e);
        }
    }

    @Override
    public String toString() {
        if (insecure) return "plaintext (--insecure)";
        return caFile.map(f -> "TLS trusting " + f).orElse("TLS trusting the JVM's CAs");
    }
}
