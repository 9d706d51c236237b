package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Duration;
import dev.spillway.api.v1.CreateJoinTokenRequest;
import dev.spillway.api.v1.NodeServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.net.URL;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** One-time join tokens: spent once, bound to one node and pool, short-lived; then a node credential. */
@QuarkusTest
class AgentJoinTest {

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    Pool pool;

    private ManagedChannel channel;

    @BeforeEach
    void connect() {
        channel = TestCallers.channel(url, TestCallers.key(keys, "default", dev.spillway.core.access.Role.ADMIN));
    }

    @AfterEach
    void disconnect() {
        channel.shutdownNow();
    }

    /** Node names unique to this run: the test database outlives a run, and a name that joined once keeps its credential. */
    private static final String RUN = java.util.UUID.randomUUID().toString().substring(0, 8);

    private static String name(String node) {
        return node + "-" + RUN;
    }

    private String mint(String node, String poolName) {
        return NodeServiceGrpc.newBlockingStub(channel).createJoinToken(CreateJoinTokenRequest.newBuilder().setNodeName(node)
                .setPool(poolName).setTtl(Duration.newBuilder().setSeconds(600)).build()).getToken();
    }

    private FakeAgent agent(String name, String credential) {
        return new FakeAgent(url.getHost(), url.getPort(), name, credential);
    }

    private static String refusal(FakeAgent a) {
        await().atMost(java.time.Duration.ofSeconds(10)).until(() -> a.error != null || a.registered() != null);
        assertThat(a.registered()).as("the broker must not accept the registration").isNull();
        assertThat(Status.fromThrowable(a.error).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        return Status.fromThrowable(a.error).getDescription();
    }

    @Test
    void aJoinTokenAdmitsItsNodeOnceAndHandsOutANodeCredential() {
        String token = mint(name("joiner-1"), "cloud-a");
        assertThat(token).startsWith("join.");
        String credential;
        try (FakeAgent a = agent(name("joiner-1"), token)) {
            a.sendRegister("cloud-a", 2000, 4096);
            await().atMost(java.time.Duration.ofSeconds(10)).until(() -> a.registered() != null);
            credential = a.registered().getNodeCredential();
            assertThat(credential).startsWith("node.");
        }
        try (FakeAgent replay = agent(name("joiner-1"), token)) {
            replay.sendRegister("cloud-a", 2000, 4096);
            assertThat(refusal(replay)).contains("already used");
        }
        // The first connection said goodbye; once the broker has seen it go (disconnected, or lost if it held tasks),
        // the node comes back with its credential.
        await().atMost(java.time.Duration.ofSeconds(10)).until(() -> !pool.query("SELECT state FROM node WHERE name = '" + name("joiner-1") + "'")
                .execute().await().indefinitely().iterator().next().getString("state").equals("READY"));
        try (FakeAgent back = agent(name("joiner-1"), credential)) {
            back.sendRegister("cloud-a", 2000, 4096);
            await().atMost(java.time.Duration.ofSeconds(10)).until(() -> back.registered() != null);
            assertThat(back.registered().getNodeCredential()).as("no new credential on a plain reconnect").isEmpty();
        }
        assertThat(pool.query("SELECT count(*) AS n FROM join_token WHERE token_hash = '" + token + "'").execute().await().indefinitely()
                .iterator().next().getLong("n")).as("the secret itself is never stored").isZero();
    }

    @Test
    void aTokenForAnotherNodeOrPoolIsRefusedAndNotSpent() {
        String token = mint(name("joiner-2"), "cloud-a");
        try (FakeAgent other = agent(name("joiner-3"), token)) {
            other.sendRegister("cloud-a", 2000, 4096);
            assertThat(refusal(other)).contains("another node");
        }
        try (FakeAgent wrongPool = agent(name("joiner-2"), token)) {
            wrongPool.sendRegister("cloud-b", 2000, 4096);
            assertThat(refusal(wrongPool)).contains("another pool");
        }
        try (FakeAgent rightful = agent(name("joiner-2"), token)) {
            rightful.sendRegister("cloud-a", 2000, 4096);
            await().atMost(java.time.Duration.ofSeconds(10)).until(() -> rightful.registered() != null);
        }
        assertThat(pool.query("SELECT count(*) AS n FROM node WHERE name = '" + name("joiner-3") + "'").execute().await().indefinitely()
                .iterator().next().getLong("n")).isZero();
    }

    @Test
    void anExpiredTokenOrAStolenCredentialIsRefused() {
        String token = mint(name("joiner-4"), "cloud-a");
        pool.query("UPDATE join_token SET expires_at = now() - interval '1 second' WHERE node_name = '" + name("joiner-4") + "'").execute().await().indefinitely();
        try (FakeAgent late = agent(name("joiner-4"), token)) {
            late.sendRegister("cloud-a", 2000, 4096);
            assertThat(refusal(late)).contains("expired");
        }
        try (FakeAgent thief = agent("someone-else", "node.not-a-real-credential")) {
            thief.sendRegister("cloud-a", 2000, 4096);
            assertThat(refusal(thief)).contains("does not belong");
        }
    }

    @Test
    void badRequestsForTokensAreFieldViolations() {
        StatusRuntimeException e = org.assertj.core.api.Assertions.catchThrowableOfType(StatusRuntimeException.class,
                () -> NodeServiceGrpc.newBlockingStub(channel).createJoinToken(CreateJoinTokenRequest.newBuilder().setPool("x").build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(e.getStatus().getDescription()).contains("node_name");
    }
}
