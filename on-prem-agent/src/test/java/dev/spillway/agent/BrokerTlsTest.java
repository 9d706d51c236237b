package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.agent.v1.AgentServiceGrpc;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Registered;
import io.grpc.Server;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real agent processes against a broker port that speaks TLS only (the agent protocol on a
 * loopback server whose certificate is signed by a test CA): with {@code --ca-file} of that CA the
 * agent registers; trusting another CA, or in plaintext with {@code --insecure}, it never does.
 */
class BrokerTlsTest {

    @TempDir
    static Path certs;
    private static KeytoolCa ca;
    private static KeytoolCa otherCa;

    @TempDir
    Path tmp;
    private Server server;
    private final List<String> registered = new CopyOnWriteArrayList<>();
    private final List<Process> agents = new ArrayList<>();

    @BeforeAll
    static void certificates() throws Exception {
        ca = KeytoolCa.create(certs.resolve("ca"), "spillway-agent-test-ca");
        otherCa = KeytoolCa.create(certs.resolve("other"), "not-the-broker");
    }

    @BeforeEach
    void tlsBroker() throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
                        TlsServerCredentials.newBuilder().keyManager(ca.serverKeys().getKeyManagers()).build())
                .addService(new AgentServiceGrpc.AgentServiceImplBase() {
                    @Override
                    public StreamObserver<ConnectRequest> connect(StreamObserver<ConnectResponse> responses) {
                        return new StreamObserver<>() {
                            @Override
                            public void onNext(ConnectRequest message) {
                                if (message.hasRegister()) {
                                    registered.add(message.getRegister().getNodeName());
                                    responses.onNext(ConnectResponse.newBuilder().setRegistered(Registered.newBuilder()
                                            .setNodeId("5f1c1a2e-8d7b-4c1e-9f3a-2b6d0e4c8a71").setHeartbeatInterval(com.google.protobuf.Duration.newBuilder().setNanos(500_000_000))
                                            .setLease(com.google.protobuf.Duration.newBuilder().setSeconds(15))).build());
                                }
                            }

                            @Override
                            public void onError(Throwable t) {
                                // the agent went away
                            }

                            @Override
                            public void onCompleted() {
                                responses.onCompleted();
                            }
                        };
                    }
                }).build().start();
    }

    @AfterEach
    void stop() throws InterruptedException {
        for (Process p : agents) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }

    private Process agent(String name, String... trust) throws IOException {
        Path token = Files.writeString(tmp.resolve(name + ".token"), "agent-token");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m",
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), AgentMain.class.getName(),
                "--broker", "localhost:" + server.getPort(), "--token-file", token.toString(), "--name", name,
                "--cpu", "1", "--memory", "256Mi", "--work-dir", tmp.resolve(name).toString(), "--drain", "hand-back",
                "--cgroup-root", "none")); // runs no task, and is killed: it would leave its (empty) cgroup behind
        cmd.addAll(List.of(trust));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve(name + ".log").toFile()).start();
        agents.add(p);
        return p;
    }

    private String log(String name) throws IOException {
        return Files.readString(tmp.resolve(name + ".log"));
    }

    @Test
    void anAgentTrustingTheBrokersCaRegistersOverTls() throws Exception {
        agent("trusting", "--ca-file", ca.caPemFile().toString());
        await().atMost(Duration.ofSeconds(30)).until(() -> registered.contains("trusting"));
        assertThat(log("trusting")).contains("over TLS, trusting the CA in " + ca.caPemFile());
    }

    @Test
    void anAgentTrustingAnotherCaNeverRegistersAndSaysTheBrokerIsNotTrusted() throws Exception {
        Process p = agent("doubting", "--ca-file", otherCa.caPemFile().toString());
        await().atMost(Duration.ofSeconds(30)).until(() -> log("doubting").contains("is not trusted"));
        assertThat(registered).doesNotContain("doubting");
        assertThat(p.isAlive()).as("it keeps retrying, as after any failed connection").isTrue();
    }

    @Test
    void aPlaintextAgentCannotTalkToATlsBroker() throws Exception {
        agent("plain", "--insecure");
        await().atMost(Duration.ofSeconds(30)).until(() -> log("plain").contains("in plaintext (--insecure)"));
        // Through several connection attempts, it never registers.
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> !registered.contains("plain"));
    }

    @Test
    void caFileAndInsecureTogetherAreRefused() throws Exception {
        Process p = agent("confused", "--ca-file", ca.caPemFile().toString(), "--insecure");
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(log("confused")).contains("--ca-file and --insecure exclude each other");
    }
}
