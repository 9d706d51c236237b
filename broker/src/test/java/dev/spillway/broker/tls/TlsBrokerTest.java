package dev.spillway.broker.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;

/**
 * The broker with {@code spillway.tls.enabled=true}: its one port speaks TLS only, with the
 * certificate it made on first start. A gRPC client and an HTTPS client trusting the broker's CA
 * get answers; a client trusting another CA fails the handshake; plaintext gRPC and HTTP get
 * nothing.
 */
@QuarkusTest
@TestProfile(TlsBrokerTest.TlsOn.class)
class TlsBrokerTest {

    public static class TlsOn implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("spillway.tls.enabled", "true", "spillway.advertised-address", "broker.tls-test.example:7070");
        }
    }

    @TestHTTPResource(tls = true)
    URL url;

    @Inject
    BrokerTransport transport;

    private Status.Code getJob(ChannelCredentials credentials) throws InterruptedException {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("localhost", url.getPort(), credentials).build();
        try {
            JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .getJob(GetJobRequest.newBuilder().setName(UUID.randomUUID().toString()).build());
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void theBrokerMadeItsCaAndServesTlsWithTheNamesItIsReachedBy() throws Exception {
        assertThat(transport.tls()).isTrue();
        assertThat(transport.generated()).isTrue();
        Path ca = transport.caFile();
        assertThat(ca).isRegularFile();
        assertThat(ca.getParent()).isEqualTo(Path.of(System.getProperty("spillway.data-dir"), "tls"));

        SSLContext trusting = sslContextTrusting(ca);
        try (SSLSocket socket = (SSLSocket) trusting.getSocketFactory().createSocket("127.0.0.1", url.getPort())) {
            socket.startHandshake();
            X509Certificate served = (X509Certificate) socket.getSession().getPeerCertificates()[0];
            assertThat(served.getSubjectAlternativeNames().stream().map(l -> String.valueOf(l.get(1))).toList())
                    .contains("broker.tls-test.example", "localhost", "127.0.0.1");
        }
    }

    @Test
    void aGrpcClientTrustingTheBrokersCaIsAnsweredByTheJobService() throws Exception {
        Status.Code code = getJob(TlsChannelCredentials.newBuilder().trustManager(transport.caFile().toFile()).build());
        // The call went through TLS and reached the service: no such job (or, once calls need a credential, not authenticated).
        assertThat(code).isIn(Status.Code.NOT_FOUND, Status.Code.UNAUTHENTICATED);
    }

    @Test
    void aGrpcClientThatDoesNotTrustTheBrokersCaFailsTheHandshake(@org.junit.jupiter.api.io.TempDir Path other) throws Exception {
        BrokerCertificates stranger = new BrokerCertificates(other, Clock.systemUTC());
        stranger.ensure(List.of("localhost"));
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("localhost", url.getPort(),
                TlsChannelCredentials.newBuilder().trustManager(stranger.caFile().toFile()).build()).build();
        try {
            StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> JobServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(20, TimeUnit.SECONDS).getJob(GetJobRequest.newBuilder().setName(UUID.randomUUID().toString()).build()));
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(causes(e)).anyMatch(c -> c instanceof SSLHandshakeException);
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void plaintextGrpcAndHttpAreRefused() throws Exception {
        assertThat(getJob(InsecureChannelCredentials.create())).isEqualTo(Status.Code.UNAVAILABLE);

        // A plaintext HTTP request on the port gets no HTTP answer: the server expects a TLS ClientHello.
        try (Socket s = new Socket("127.0.0.1", url.getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET /q/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String answer = readSome(s.getInputStream());
            assertThat(answer).doesNotContain("HTTP/1.1 200").doesNotContain("\"status\"");
        }
    }

    @Test
    void restAndHealthAnswerOverHttpsToAClientTrustingTheCa() throws Exception {
        HttpClient client = HttpClient.newBuilder().sslContext(sslContextTrusting(transport.caFile())).connectTimeout(Duration.ofSeconds(10)).build();
        HttpResponse<String> health = client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + url.getPort() + "/q/health/live")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("UP");

        HttpClient untrusting = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        assertThat(catchThrowableOfType(IOException.class, () -> untrusting.send(
                HttpRequest.newBuilder(URI.create("https://localhost:" + url.getPort() + "/q/health/live")).build(),
                HttpResponse.BodyHandlers.ofString()))).isInstanceOf(SSLHandshakeException.class);
    }

    static SSLContext sslContextTrusting(Path caPem) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        int i = 0;
        for (X509Certificate c : BrokerCertificates.readCertificates(caPem)) trust.setCertificateEntry("ca-" + i++, c);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static List<Throwable> causes(Throwable t) {
        List<Throwable> out = new java.util.ArrayList<>();
        for (Throwable c = t; c != null && !out.contains(c); c = c.getCause()) out.add(c);
        return out;
    }

    private static String readSome(InputStream in) {
        byte[] buf = new byte[4096];
        try {
            int n = in.read(buf);
            return n <= 0 ? "" : new String(buf, 0, n, StandardCharsets.ISO_8859_1);
        } catch (IOException closedOrReset) {
            return "";
        }
    }
}
