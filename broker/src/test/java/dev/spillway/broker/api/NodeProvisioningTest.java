package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.rpc.BadRequest;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Report;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.CreateJoinTokenRequest;
import dev.spillway.api.v1.GetNodeRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.NodeState;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.broker.agents.AgentCredentials;
import dev.spillway.broker.store.InstanceStore;
import dev.spillway.broker.store.JoinTokenStore;
import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.lifecycle.ReasonCode;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.net.URL;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a node is, it cannot say for itself: a node name is never taken over (not by a second join
 * token, nor by a second connection while the node is live), the pool, reserved labels and
 * capacity ceiling its token fixed hold at every registration, and a terminated cloud instance's
 * credential is dead. Real gRPC, real agents' protocol, embedded PostgreSQL.
 */
@QuarkusTest
class NodeProvisioningTest {

    private static final Duration WAIT = Duration.ofSeconds(15);

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    AgentCredentials credentials;

    @Inject
    InstanceStore instances;

    @Inject
    dev.spillway.broker.agents.AgentSessions sessions;

    @Inject
    dev.spillway.broker.config.BrokerConfig config;

    @Inject
    Pool pool;

    private ManagedChannel channel;
    private final List<FakeAgent> agents = new ArrayList<>();

    @BeforeEach
    void connect() {
        channel = TestCallers.channel(url, TestCallers.key(keys, "default", dev.spillway.core.access.Role.OPERATOR));
    }

    @AfterEach
    void disconnect() {
        agents.forEach(FakeAgent::close);
        channel.shutdownNow();
    }

    private CreateJoinTokenRequest.Builder token(String node, String poolName) {
        return CreateJoinTokenRequest.newBuilder().setNodeName(node).setPool(poolName)
                .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(600));
    }

    private String mint(CreateJoinTokenRequest.Builder request) {
        return NodeServiceGrpc.newBlockingStub(channel).createJoinToken(request.build()).getToken();
    }

    private FakeAgent agent(String name, String credential) {
        FakeAgent a = new FakeAgent(url.getHost(), url.getPort(), name, credential);
        agents.add(a);
        return a;
    }

    private static void register(FakeAgent a, String name, String poolName, long cpuMillis, Map<String, String> labels) {
        a.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(name).setPool(poolName).putAllLabels(labels)
                .setCapacity(Resources.newBuilder().setCpuMillis(cpuMillis).setMemoryMib(2048))).build());
    }

    /** The registration's refusal: the stream ends with {@code code}; the description is returned. */
    private static String refused(FakeAgent a, Status.Code code) {
        await().atMost(WAIT).until(() -> a.error != null || a.registered() != null);
        assertThat(a.registered()).as("the broker must not accept the registration").isNull();
        assertThat(Status.fromThrowable(a.error).getCode()).isEqualTo(code);
        return Status.fromThrowable(a.error).getDescription();
    }

    private static String joined(FakeAgent a) {
        await().atMost(WAIT).until(() -> a.error != null || a.registered() != null);
        assertThat(a.error).as("the registration must be accepted").isNull();
        return a.registered().getNodeCredential();
    }

    private long refusalsAudited(String node) {
        return pool.preparedQuery("SELECT count(*) AS n FROM audit_event WHERE action = 'node.register-refused' AND target = $1 "
                        + "AND actor = $2 AND remote IS NOT NULL")
                .execute(Tuple.of(node, "agent:" + node)).await().indefinitely().iterator().next().getLong("n");
    }

    private String credentialHash(String node) {
        return pool.preparedQuery("SELECT credential_hash FROM node WHERE name = $1").execute(Tuple.of(node)).await().indefinitely()
                .iterator().next().getString("credential_hash");
    }

    @Test
    void aNodeNameIsNeverTakenOverAndTheLiveNodeKeepsRunningItsTask() {
        String owner = "owner-" + UUID.randomUUID().toString().substring(0, 8);
        // Two tokens for the same name, both minted before anyone joined: only the first may ever be spent.
        String first = mint(token(owner, "onprem").putLabels("team", owner));
        String second = mint(token(owner, "onprem"));

        FakeAgent live = agent(owner, first);
        register(live, owner, "onprem", 2000, Map.of());
        String credential = joined(live);
        assertThat(credential).startsWith("node.");
        // A task for the node to run, pinned to it by the label its token fixed (admitted now that a node carries it), and
        // ahead of whatever else waits in the shared test database.
        var jobs = JobServiceGrpc.newBlockingStub(TestCallers.channel(url, TestCallers.key(keys, "default", dev.spillway.core.access.Role.SUBMITTER)));
        String job = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(JobApiTest.valid().toBuilder().setTaskCount(1).setPriority(1000)
                .setTask(JobApiTest.valid().getTask().toBuilder().putNodeSelector("team", owner))).build()).getUid();
        // Its reports double as its heartbeat: without them the broker would declare it lost after the lease.
        AtomicReference<AttemptStatus> running = new AtomicReference<>();
        ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor();
        beats.scheduleAtFixedRate(() -> {
            Report.Builder report = Report.newBuilder();
            if (running.get() != null) report.addAttempts(running.get());
            live.send(ConnectRequest.newBuilder().setReport(report).build());
        }, 0, 250, TimeUnit.MILLISECONDS);
        try {
            liveNodeKeepsItsName(owner, second, live, credential, jobs, job, running);
        } finally {
            beats.shutdownNow();
        }
    }

    private void liveNodeKeepsItsName(String owner, String second, FakeAgent live, String credential, JobServiceGrpc.JobServiceBlockingStub jobs,
                                      String job, AtomicReference<AttemptStatus> running) {
        await().atMost(WAIT).until(() -> live.received.stream().anyMatch(m -> m.hasAssign() && m.getAssign().getJobId().equals(job)));
        var assign = live.received.stream().filter(m -> m.hasAssign() && m.getAssign().getJobId().equals(job)).findFirst().orElseThrow().getAssign();
        running.set(AttemptStatus.newBuilder().setJobId(job).setTaskIndex(assign.getTaskIndex()).setAttempt(assign.getAttempt())
                .setState(AttemptState.ATTEMPT_STATE_RUNNING).build());
        await().atMost(WAIT).until(() -> jobs.listTasks(dev.spillway.api.v1.ListTasksRequest.newBuilder().setParent(job).build()).getTasks(0).getState()
                == TaskState.TASK_STATE_RUNNING);

        // A third token for the name: refused when minted, unless it is an explicit re-provisioning.
        StatusRuntimeException minted = catchThrowableOfType(StatusRuntimeException.class, () -> mint(token(owner, "onprem")));
        assertThat(minted.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(minted.getStatus().getDescription()).contains("replace_existing").contains("already has a node credential");

        // The second token, minted earlier, from another machine: refused, and not spent.
        FakeAgent thief = agent(owner, second);
        register(thief, owner, "onprem", 2000, Map.of());
        assertThat(refused(thief, Status.Code.ALREADY_EXISTS)).contains("already has a node credential");
        // The node's own credential, presented a second time while the node is live: refused.
        FakeAgent twin = agent(owner, credential);
        register(twin, owner, "onprem", 2000, Map.of());
        assertThat(refused(twin, Status.Code.ALREADY_EXISTS)).contains("connected already");
        // The shared agent token (enabled in this test profile) cannot register a node that has its own credential.
        FakeAgent shared = agent(owner, "test-agent-token");
        register(shared, owner, "onprem", 2000, Map.of());
        assertThat(refused(shared, Status.Code.ALREADY_EXISTS)).contains("connected already");

        // Each refusal is in the audit log, with where it came from.
        await().atMost(WAIT).until(() -> refusalsAudited(owner) == 3);

        // The live node is untouched: connected, its task still running there, its stream still served.
        assertThat(live.error).isNull();
        var node = NodeServiceGrpc.newBlockingStub(channel).getNode(GetNodeRequest.newBuilder().setName(owner).build());
        assertThat(node.getState()).isEqualTo(NodeState.NODE_STATE_READY);
        Task task = jobs.listTasks(dev.spillway.api.v1.ListTasksRequest.newBuilder().setParent(job).build()).getTasks(0);
        assertThat(task.getState()).isEqualTo(TaskState.TASK_STATE_RUNNING);
        assertThat(task.getNode()).isEqualTo(owner);
        assertThat(task.getAttempt()).isEqualTo(assign.getAttempt());
        jobs.cancelJob(CancelJobRequest.newBuilder().setName(job).build());
        await().atMost(WAIT).until(() -> live.received.stream().anyMatch(m -> m.hasKill() && m.getKill().getJobId().equals(job)));
        assertThat(pool.preparedQuery("SELECT used_at FROM join_token WHERE token_hash = $1").execute(Tuple.of(AgentCredentials.hash(second)))
                .await().indefinitely().iterator().next().getValue("used_at")).as("the refused token is not spent").isNull();
    }

    @Test
    void anOperatorReprovisionsANameExplicitlyAndTheOldCredentialStopsWorking() {
        String name = "reprovisioned-" + UUID.randomUUID().toString().substring(0, 8);
        FakeAgent old = agent(name, mint(token(name, "onprem")));
        register(old, name, "onprem", 2000, Map.of());
        String oldCredential = joined(old);

        FakeAgent replacement = agent(name, mint(token(name, "onprem").setReplaceExisting(true)));
        register(replacement, name, "onprem", 2000, Map.of());
        String newCredential = joined(replacement);
        assertThat(newCredential).startsWith("node.").isNotEqualTo(oldCredential);
        await().atMost(WAIT).until(() -> old.error != null);
        assertThat(Status.fromThrowable(old.error).getCode()).isEqualTo(Status.Code.ABORTED);
        replacement.close();

        FakeAgent back = agent(name, oldCredential);
        register(back, name, "onprem", 2000, Map.of());
        assertThat(refused(back, Status.Code.UNAUTHENTICATED)).contains("does not belong");
    }

    @Test
    void theNodeItselfComesBackOnceItsOldConnectionHasFallenSilent() {
        // An agent killed on the spot may leave its connection open on the broker's side until the lease runs out.
        String name = "restarted-" + UUID.randomUUID().toString().substring(0, 8);
        FakeAgent dead = agent(name, mint(token(name, "onprem")));
        register(dead, name, "onprem", 2000, Map.of());
        String credential = joined(dead);
        // It sends no report from now on; once it has missed two heartbeats (and before its lease ends), its restart gets in.
        await().atMost(WAIT).until(() -> Duration.between(sessions.lastSeen(name), Instant.now())
                .compareTo(config.agents().heartbeatInterval().multipliedBy(2)) > 0);
        FakeAgent restarted = agent(name, credential);
        register(restarted, name, "onprem", 2000, Map.of());
        assertThat(joined(restarted)).isEmpty();
        await().atMost(WAIT).until(() -> dead.error != null);
        assertThat(Status.fromThrowable(dead.error).getCode()).isEqualTo(Status.Code.ABORTED);
        assertThat(Status.fromThrowable(dead.error).getDescription()).contains("fallen silent");
    }

    @Test
    void poolReservedLabelsAndCapacityComeFromTheTokenNotTheAgent() {
        String name = "eu-node-" + UUID.randomUUID().toString().substring(0, 8);
        String token = mint(token(name, "onprem").putLabels("spillway.dev/jurisdiction", "EU")
                .setMaxCapacity(Resources.newBuilder().setCpuMillis(2000).setMemoryMib(4096)));

        // With the token: a self-declared reserved label, capacity above the ceiling, another pool. None spends it.
        FakeAgent declares = agent(name, token);
        register(declares, name, "onprem", 2000, Map.of("spillway.dev/jurisdiction", "EU"));
        assertThat(refused(declares, Status.Code.PERMISSION_DENIED)).contains("spillway.dev/jurisdiction").contains("reserved");
        FakeAgent tooBig = agent(name, token);
        register(tooBig, name, "onprem", 4000, Map.of());
        assertThat(refused(tooBig, Status.Code.PERMISSION_DENIED)).contains("exceeds the node's ceiling");
        FakeAgent elsewhere = agent(name, token);
        register(elsewhere, name, "gpu-lab", 2000, Map.of());
        assertThat(refused(elsewhere, Status.Code.UNAUTHENTICATED)).contains("another pool");

        FakeAgent node = agent(name, token);
        register(node, name, "onprem", 2000, Map.of("rack", "r7"));
        String credential = joined(node);
        assertThat(NodeServiceGrpc.newBlockingStub(channel).getNode(GetNodeRequest.newBuilder().setName(name).build()).getLabelsMap())
                .containsEntry("spillway.dev/jurisdiction", "EU").containsEntry("rack", "r7");
        node.close();
        await().atMost(WAIT).until(() -> NodeServiceGrpc.newBlockingStub(channel).getNode(GetNodeRequest.newBuilder().setName(name).build())
                .getState() != NodeState.NODE_STATE_READY);

        // With the node credential later: the same rules hold.
        FakeAgent claimsUs = agent(name, credential);
        register(claimsUs, name, "onprem", 2000, Map.of("spillway.dev/jurisdiction", "US"));
        assertThat(refused(claimsUs, Status.Code.PERMISSION_DENIED)).contains("reserved");
        FakeAgent grown = agent(name, credential);
        register(grown, name, "onprem", 2001, Map.of());
        assertThat(refused(grown, Status.Code.PERMISSION_DENIED)).contains("exceeds the node's ceiling");
        FakeAgent moved = agent(name, credential);
        register(moved, name, "gpu-lab", 2000, Map.of());
        assertThat(refused(moved, Status.Code.PERMISSION_DENIED)).contains("provisioned for pool onprem");
        FakeAgent again = agent(name, credential);
        register(again, name, "onprem", 1500, Map.of());
        assertThat(joined(again)).as("no new credential on a reconnection").isEmpty();
        assertThat(NodeServiceGrpc.newBlockingStub(channel).getNode(GetNodeRequest.newBuilder().setName(name).build()).getLabelsMap())
                .containsEntry("spillway.dev/jurisdiction", "EU").doesNotContainKey("rack");
        await().atMost(WAIT).until(() -> refusalsAudited(name) == 6);

        // The shared agent token (a lab opt-in, enabled in this test profile) cannot declare reserved labels either.
        FakeAgent labClaim = agent("lab-" + name, "test-agent-token");
        register(labClaim, "lab-" + name, "onprem", 2000, Map.of("spillway.dev/cloud", "true"));
        assertThat(refused(labClaim, Status.Code.PERMISSION_DENIED)).contains("spillway.dev/cloud").contains("reserved");
    }

    @Test
    void badCeilingsAndLabelsAreFieldViolations() {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> mint(token("fine-name", "onprem")
                .putLabels("no spaces allowed", "x").setMaxCapacity(Resources.newBuilder().setCpuMillis(0).setMemoryMib(1024))));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        var fields = StatusProto.fromThrowable(e).getDetailsList().stream().filter(d -> d.is(BadRequest.class)).flatMap(d -> {
            try {
                return d.unpack(BadRequest.class).getFieldViolationsList().stream();
            } catch (com.google.protobuf.InvalidProtocolBufferException bad) {
                throw new AssertionError(bad);
            }
        }).map(BadRequest.FieldViolation::getField).toList();
        assertThat(fields).containsExactly("labels", "max_capacity.cpu_millis");
    }

    @Test
    void aTerminatedInstancesNodeCredentialNoLongerRegisters() {
        // As the burst controller launches one: a REQUESTED record, then a token fixing pool, cloud labels and the type's shape.
        UUID id = UUID.randomUUID();
        String name = "cloud-test-" + id.toString().substring(0, 8);
        dev.spillway.core.scheduling.Resources shape = new dev.spillway.core.scheduling.Resources(2000, 4096, 0);
        instances.insertRequested(new InstanceStore.NewInstance(id, "cloud-test", name,
                new Offering(Offering.id("cloud-test", "z1", "t.small", false), "cloud-test", "r1", "z1", "EU", "t.small", shape, false, 0.05),
                Set.of(), 1, "test")).await().atMost(WAIT);
        Map<String, String> fixed = Map.of("spillway.dev/cloud", "true", "spillway.dev/jurisdiction", "EU");
        String token = credentials.mintJoinToken(new JoinTokenStore.Grant(name, "cloud-test", fixed, shape, false), Duration.ofMinutes(5))
                .await().atMost(WAIT).token();
        instances.transition(id, InstanceState.PROVISIONING, ReasonCode.LAUNCHED, "launched", "i-test", Instant.now()).await().atMost(WAIT);

        FakeAgent vm = agent(name, token);
        register(vm, name, "cloud-test", 2000, Map.of());
        String credential = joined(vm);
        instances.transition(id, InstanceState.JOINED, ReasonCode.JOINED, "agent registered", null, Instant.now()).await().atMost(WAIT);
        // A re-provisioning token minted while it ran, never used: it must die with the instance too.
        String spare = credentials.mintJoinToken(new JoinTokenStore.Grant(name, "cloud-test", fixed, shape, true), Duration.ofMinutes(5))
                .await().atMost(WAIT).token();
        vm.close();

        assertThat(instances.transition(id, InstanceState.TERMINATED, ReasonCode.IDLE, "idle", null, Instant.now()).await().atMost(WAIT)).isTrue();
        assertThat(credentialHash(name)).as("the credential is revoked with the instance").isNull();

        FakeAgent stolen = agent(name, credential);
        register(stolen, name, "cloud-test", 2000, Map.of());
        assertThat(refused(stolen, Status.Code.UNAUTHENTICATED)).contains("does not belong");
        FakeAgent spent = agent(name, spare);
        register(spent, name, "cloud-test", 2000, Map.of());
        assertThat(refused(spent, Status.Code.UNAUTHENTICATED)).contains("expired");
    }
}
