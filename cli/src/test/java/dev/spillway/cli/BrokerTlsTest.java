package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;


import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.spillway.agent.KeytoolCa;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's side of the broker's TLS: a gRPC server and an HTTPS server on loopback with a
 * certificate from a test CA, as a broker with TLS has. Trusting that CA, calls go through;
 * trusting only the JVM's CAs, or in plaintext, they fail.
 */
class BrokerTlsTest {

    @TempDir
    static Path dir;
    private static KeytoolCa ca;
    private static Server grpc;
    private static HttpsServer https;

    @BeforeAll
    static void tlsServers() throws Exception {
        ca = KeytoolCa.create(dir.resolve("ca"), "spillway-cli-test-ca");
        grpc = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
                        TlsServerCredentials.newBuilder().keyManager(ca.serverKeys().getKeyManagers()).build())
                .addService(new JobServiceGrpc.JobServiceImplBase() { }).build().start();
        https = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        https.setHttpsConfigurator(new HttpsConfigurator(ca.serverContext()));
        https.createContext("/q/health/live", exchange -> {
            byte[] body = "{\"status\":\"UP\"}".getBytes();
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        https.start();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        grpc.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        https.stop(0);
    }

    private static Status.Code getJob(BrokerTls tls) throws InterruptedException {
        ManagedChannel channel = tls.channelBuilder("localhost:" + grpc.getPort()).build();
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
    void trustingTheBrokersCaTheGrpcCallReachesTheServiceAndHttpsHealthAnswers() throws Exception {
        BrokerTls tls = BrokerTls.trusting(ca.caPemFile());
        assertThat(getJob(tls)).as("reached the service, which does not implement the call").isEqualTo(Status.Code.UNIMPLEMENTED);

        HttpResponse<String> health = tls.httpClient().build().send(HttpRequest.newBuilder(
                tls.url("localhost:" + https.getAddress().getPort(), "/q/health/live")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(tls.url("b:1", "q/health").toString()).isEqualTo("https://b:1/q/health");
    }

    @Test
    void aBrokerWhoseCaIsNotTrustedIsRefused() throws Exception {
        BrokerTls jvm = BrokerTls.jvmTrust();
        assertThat(getJob(jvm)).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(catchThrowableOfType(IOException.class, () -> jvm.httpClient().build().send(HttpRequest.newBuilder(
                jvm.url("localhost:" + https.getAddress().getPort(), "/q/health/live")).build(), HttpResponse.BodyHandlers.ofString())))
                .isInstanceOf(SSLHandshakeException.class);
    }

    @Test
    void plaintextIsOnlyExplicitAndCannotTalkToATlsBroker() throws Exception {
        BrokerTls plain = BrokerTls.insecure();
        assertThat(plain.isInsecure()).isTrue();
        assertThat(plain.sslContext()).isEmpty();
        assertThat(plain.url("b:1", "/x").toString()).isEqualTo("http://b:1/x");
        assertThat(getJob(plain)).isEqualTo(Status.Code.UNAVAILABLE);
        assertThatThrownBy(() -> BrokerTls.choose(true, Optional.of(ca.caPemFile()), dir)).hasMessageContaining("exclude each other");
    }

    @Test
    void theCaOfABrokerOnThisMachineIsFoundInItsDataDirectory() throws Exception {
        Path data = dir.resolve("data");
        assertThat(BrokerTls.choose(false, Optional.empty(), data).caFile()).isEmpty();
        Files.createDirectories(data.resolve("tls"));
        Files.copy(ca.caPemFile(), data.resolve("tls/ca.pem"));
        assertThat(BrokerTls.choose(false, Optional.empty(), data).caFile()).contains(data.resolve("tls/ca.pem"));
        assertThatThrownBy(() -> BrokerTls.choose(false, Optional.of(dir.resolve("missing-ca.pem")), data))
                .as("an explicit CA file wins, and one that cannot be read is named at once").hasMessageContaining("missing-ca.pem");
    }
}
