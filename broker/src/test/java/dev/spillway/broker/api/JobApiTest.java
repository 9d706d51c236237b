package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.rpc.BadRequest;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Report;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.TaskTemplate;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.net.URL;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The job API over real gRPC against the broker on embedded PostgreSQL: bad input is refused
 * with field violations and stores nothing; agents must authenticate; a report of an attempt
 * that is no longer current is refused.
 */
@QuarkusTest
class JobApiTest {

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    Pool pool;

    private ManagedChannel channel;
    private JobServiceGrpc.JobServiceBlockingStub jobs;

    @BeforeEach
    void connect() {
        channel = TestCallers.channel(url, TestCallers.key(keys, "default", dev.spillway.core.access.Role.ADMIN));
        jobs = JobServiceGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void disconnect() {
        channel.shutdownNow();
    }

    static JobSpec valid() {
        return JobSpec.newBuilder().setName("ok").setTaskCount(2)
                .setTask(TaskTemplate.newBuilder().addCommand("true").setResources(Resources.newBuilder().setCpuMillis(500).setMemoryMib(128)))
                .build();
    }

    private long rows(String table) {
        return pool.query("SELECT count(*) AS n FROM " + table).execute().await().indefinitely().iterator().next().getLong("n");
    }

    private List<BadRequest.FieldViolation> refused(UnaryOperator<JobSpec.Builder> change) {
        long jobsBefore = rows("job");
        long tasksBefore = rows("task");
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(change.apply(valid().toBuilder())).build()));
        assertThat(e).as("the submission must be refused").isNotNull();
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(rows("job")).as("no job row written").isEqualTo(jobsBefore);
        assertThat(rows("task")).as("no task row written").isEqualTo(tasksBefore);
        return StatusProto.fromThrowable(e).getDetailsList().stream()
                .filter(a -> a.is(BadRequest.class))
                .flatMap(a -> {
                    try {
                        return a.unpack(BadRequest.class).getFieldViolationsList().stream();
                    } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                        throw new AssertionError(x);
                    }
                }).toList();
    }

    private static List<String> fields(List<BadRequest.FieldViolation> v) {
        return v.stream().map(BadRequest.FieldViolation::getField).toList();
    }

    @Test
    void zeroOrNegativeCpuIsRefused() {
        assertThat(fields(refused(b -> {
            b.getTaskBuilder().getResourcesBuilder().setCpuMillis(0);
            return b;
        }))).containsExactly("spec.task.resources.cpu_millis");
        assertThat(fields(refused(b -> {
            b.getTaskBuilder().getResourcesBuilder().setCpuMillis(-1000).setMemoryMib(-1);
            return b;
        }))).containsExactlyInAnyOrder("spec.task.resources.cpu_millis", "spec.task.resources.memory_mib");
    }

    @Test
    void anEmptyCommandIsRefused() {
        assertThat(fields(refused(b -> {
            b.getTaskBuilder().clearCommand();
            return b;
        }))).containsExactly("spec.task.command");
    }

    @Test
    void tooManyTasksIsRefused() {
        var v = refused(b -> b.setTaskCount(5001));
        assertThat(fields(v)).containsExactly("spec.task_count");
        assertThat(v.get(0).getDescription()).contains("5000");
    }

    @Test
    void anOversizedEnvironmentIsRefused() {
        assertThat(fields(refused(b -> {
            b.getTaskBuilder().putEnv("BIG", "x".repeat(70_000));
            return b;
        }))).containsExactly("spec.task.env");
    }

    @Test
    void anUnknownFieldIsRefused() {
        // A field this broker does not know (as a newer client would send it) must not be dropped silently.
        JobSpec withUnknown = valid().toBuilder()
                .setUnknownFields(com.google.protobuf.UnknownFieldSet.newBuilder()
                        .addField(99, com.google.protobuf.UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build())
                .build();
        assertThat(fields(refused(b -> withUnknown.toBuilder()))).containsExactly("spec.99");
    }

    @Test
    void moreCpuThanAnyNodeOffersIsRefusedOnceNodesAreKnown() throws Exception {
        try (FakeAgent agent = agent("api-test-node", "test-agent-token")) {
            agent.register(4000, 8192);
            var v = refused(b -> {
                b.getTaskBuilder().getResourcesBuilder().setCpuMillis(64_000);
                return b;
            });
            assertThat(fields(v)).containsExactly("spec.task.resources");
            assertThat(v.get(0).getDescription()).contains("64 cpu");
        }
    }

    @Test
    void anAgentWithAWrongTokenIsRefused() throws Exception {
        try (FakeAgent agent = agent("intruder", "not-the-token")) {
            agent.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName("intruder").setPool("onprem")
                    .setCapacity(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(1024))).build());
            await().atMost(Duration.ofSeconds(10)).until(() -> agent.error != null);
            assertThat(Status.fromThrowable(agent.error).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        }
        assertThat(rows("node WHERE name = 'intruder'")).isZero();
    }

    @Test
    void aRepeatedEndOrAHeartbeatBuiltBeforeAnEndAndArrivingAfterItIsNeitherRefusedNorKilled() throws Exception {
        String label = "late-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        try (FakeAgent agent = agent(label + "-node", "test-agent-token")) {
            agent.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(label + "-node").setPool("onprem")
                    .putLabels("test", label).setCapacity(Resources.newBuilder().setCpuMillis(2000).setMemoryMib(4096))).build());
            await().atMost(Duration.ofSeconds(10)).until(() -> agent.registered() != null);
            String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(valid().toBuilder().setTaskCount(1)
                    .setTask(valid().getTask().toBuilder().putNodeSelector("test", label))).build()).getUid();
            await().atMost(Duration.ofSeconds(10)).until(() -> agent.received.stream().anyMatch(ConnectResponse::hasAssign));
            double refusedBefore = refusedReports();
            AttemptStatus running = AttemptStatus.newBuilder().setJobId(id).setTaskIndex(0).setAttempt(1)
                    .setState(AttemptState.ATTEMPT_STATE_RUNNING).build();
            agent.send(ConnectRequest.newBuilder().setReport(Report.newBuilder().addAttempts(running)).build());
            // The end, and the next heartbeat sending it again because no acknowledgement has arrived yet.
            Report end = Report.newBuilder().addAttempts(running.toBuilder().setState(AttemptState.ATTEMPT_STATE_EXITED).setExitCode(0)).build();
            agent.send(ConnectRequest.newBuilder().setReport(end).build());
            agent.send(ConnectRequest.newBuilder().setReport(end).build());
            await().atMost(Duration.ofSeconds(10)).until(() -> jobs.getJob(GetJobRequest.newBuilder().setName(id).build())
                    .getState() == dev.spillway.api.v1.JobState.JOB_STATE_SUCCEEDED);
            await().atMost(Duration.ofSeconds(10)).until(() -> agent.received.stream().filter(ConnectResponse::hasEndsRecorded)
                    .flatMap(r -> r.getEndsRecorded().getAttemptsList().stream()).filter(a -> a.getJobId().equals(id)).count() == 2);

            // The heartbeat the agent built while the attempt still ran, then an end of an attempt that never was: the broker
            // handles one stream's messages in order, so once the second is refused, the first has been handled.
            agent.send(ConnectRequest.newBuilder().setReport(Report.newBuilder().addAttempts(running)).build());
            agent.send(ConnectRequest.newBuilder().setReport(Report.newBuilder().addAttempts(running.toBuilder()
                    .setJobId(java.util.UUID.randomUUID().toString()).setState(AttemptState.ATTEMPT_STATE_EXITED))).build());
            await().atMost(Duration.ofSeconds(10)).until(() -> refusedReports() > refusedBefore);

            assertThat(refusedReports()).as("only the end of the attempt that never was is refused (not the repeated end)")
                    .isEqualTo(refusedBefore + 1);
            assertThat(agent.received).noneMatch(ConnectResponse::hasKill);
        }
    }

    @Test
    void aWatchResumesAfterTheLastSequenceItReceivedWithNothingTwiceAndNothingLost() throws Exception {
        String label = "resume-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        try (FakeAgent agent = agent(label + "-node", "test-agent-token")) {
            agent.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(label + "-node").setPool("onprem")
                    .putLabels("test", label).setCapacity(Resources.newBuilder().setCpuMillis(2000).setMemoryMib(4096))).build());
            await().atMost(Duration.ofSeconds(10)).until(() -> agent.registered() != null);
            String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(valid().toBuilder().setTaskCount(1)
                    .setTask(valid().getTask().toBuilder().putNodeSelector("test", label))).build()).getUid();
            var watch = jobs.withDeadlineAfter(30, java.util.concurrent.TimeUnit.SECONDS)
                    .watchJob(WatchJobRequest.newBuilder().setName(id).build());
            WatchJobResponse first = watch.next();
            assertThat(first.hasJob()).isTrue();

            await().atMost(Duration.ofSeconds(10)).until(() -> agent.received.stream().anyMatch(ConnectResponse::hasAssign));
            AttemptStatus running = AttemptStatus.newBuilder().setJobId(id).setTaskIndex(0).setAttempt(1)
                    .setState(AttemptState.ATTEMPT_STATE_RUNNING).build();
            agent.send(ConnectRequest.newBuilder().setReport(Report.newBuilder().addAttempts(running)).build());
            agent.send(ConnectRequest.newBuilder().setReport(Report.newBuilder().addAttempts(running.toBuilder()
                    .setState(AttemptState.ATTEMPT_STATE_EXITED).setExitCode(0))).build());
            List<WatchJobResponse> events = new java.util.ArrayList<>();
            watch.forEachRemaining(events::add);
            assertThat(events).extracting(WatchJobResponse::getState).contains(TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_SUCCEEDED);
            List<Long> sequences = new java.util.ArrayList<>(List.of(first.getSequence()));
            events.forEach(e -> sequences.add(e.getSequence()));
            assertThat(sequences).as("strictly increasing, the first message's included").doesNotHaveDuplicates().isSorted();

            // Resumed after the first message, and after the first event: exactly the events that followed, no snapshot
            // (each event's job_state is the job's when it was read, so that alone may differ).
            List<WatchJobResponse> seen = withoutJobState(events);
            assertThat(withoutJobState(watchAll(id, first.getSequence()))).isEqualTo(seen);
            assertThat(withoutJobState(watchAll(id, events.get(0).getSequence()))).isEqualTo(seen.subList(1, seen.size()));
            assertThat(watchAll(id, events.get(events.size() - 1).getSequence())).isEmpty();

            for (long wrong : new long[] {-1, events.get(events.size() - 1).getSequence() + 1}) {
                var refused = catchThrowableOfType(StatusRuntimeException.class, () -> watchAll(id, wrong));
                assertThat(refused.getStatus().getCode()).as("after %d", wrong).isEqualTo(Status.Code.INVALID_ARGUMENT);
                assertThat(badRequest(refused).getFieldViolations(0).getField()).isEqualTo("after_sequence");
            }
        }
    }

    private static BadRequest badRequest(StatusRuntimeException e) throws Exception {
        return StatusProto.fromThrowable(e).getDetailsList().stream().filter(a -> a.is(BadRequest.class)).findFirst().orElseThrow()
                .unpack(BadRequest.class);
    }

    private static List<WatchJobResponse> withoutJobState(List<WatchJobResponse> events) {
        return events.stream().map(e -> e.toBuilder().clearJobState().build()).toList();
    }

    private List<WatchJobResponse> watchAll(String id, long after) {
        List<WatchJobResponse> out = new java.util.ArrayList<>();
        jobs.withDeadlineAfter(30, java.util.concurrent.TimeUnit.SECONDS)
                .watchJob(WatchJobRequest.newBuilder().setName(id).setAfterSequence(after).build()).forEachRemaining(out::add);
        return out;
    }

    @Test
    void aReportOfAnAttemptThatIsNotCurrentIsRefused() throws Exception {
        try (FakeAgent agent = agent("stale-node", "test-agent-token"); FakeAgent labelled = agent("stale-labelled-node", "test-agent-token")) {
            agent.register(2000, 4096);
            // A node carries the label, so admission takes the job (some node could run it), but it is draining.
            labelled.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName("stale-labelled-node").setPool("onprem")
                    .putLabels("test", "stale").setDraining(true).setCapacity(Resources.newBuilder().setCpuMillis(2000).setMemoryMib(4096))).build());
            await().atMost(Duration.ofSeconds(10)).until(() -> labelled.registered() != null);
            String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(valid().toBuilder().setTaskCount(1)
                    .setTask(valid().getTask().toBuilder().putNodeSelector("test", "stale"))).build()).getUid();
            // The task cannot be placed (the one node with the label is draining), so attempt 1 was never assigned to anyone.
            double refusedBefore = refusedReports();
            agent.send(ConnectRequest.newBuilder().setReport(Report.newBuilder().addAttempts(AttemptStatus.newBuilder()
                    .setJobId(id).setTaskIndex(0).setAttempt(1).setState(AttemptState.ATTEMPT_STATE_EXITED).setExitCode(0))).build());
            await().atMost(Duration.ofSeconds(10)).until(() -> refusedReports() > refusedBefore);
            var task = jobs.listTasks(dev.spillway.api.v1.ListTasksRequest.newBuilder().setParent(id).build()).getTasks(0);
            assertThat(task.getState()).isEqualTo(TaskState.TASK_STATE_QUEUED);
            assertThat(task.getAttempt()).isZero();
            assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(id).build()).getPendingReason())
                    .contains("node lacks a selected label");
        }
    }

    @Test
    void nodesAndPoolsAreListedOverGrpcAndRest() throws Exception {
        try (FakeAgent agent = agent("view-node", "test-agent-token")) {
            agent.register(3000, 2048);
            var nodes = dev.spillway.api.v1.NodeServiceGrpc.newBlockingStub(channel)
                    .listNodes(dev.spillway.api.v1.ListNodesRequest.newBuilder().setPool("pools/onprem").setPageSize(1000).build()).getNodesList();
            assertThat(nodes).filteredOn(n -> n.getName().equals("nodes/view-node")).singleElement().satisfies(n -> {
                assertThat(n.getState()).isEqualTo(dev.spillway.api.v1.NodeState.NODE_STATE_READY);
                assertThat(n.getCapacity().getCpuMillis()).isEqualTo(3000);
                assertThat(n.getLabelsMap()).containsEntry("rack", "r1");
            });
            var pools = dev.spillway.api.v1.PoolServiceGrpc.newBlockingStub(channel)
                    .listPools(dev.spillway.api.v1.ListPoolsRequest.getDefaultInstance()).getPoolsList();
            assertThat(pools).filteredOn(p -> p.getName().equals("pools/onprem")).singleElement()
                    .satisfies(p -> assertThat(p.getReadyNodes()).isPositive());

            var http = java.net.http.HttpClient.newHttpClient();
            String admin = "Bearer " + TestCallers.key(keys, "default", dev.spillway.core.access.Role.ADMIN);
            var ok = http.send(java.net.http.HttpRequest.newBuilder(url.toURI().resolve("/api/v1/nodes?pool=onprem")).header("Authorization", admin).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.body()).contains("\"name\":\"nodes/view-node\"");
            var missing = http.send(java.net.http.HttpRequest.newBuilder(
                    url.toURI().resolve("/api/v1/jobs/" + java.util.UUID.randomUUID())).header("Authorization", admin).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(missing.statusCode()).isEqualTo(404);
            assertThat(missing.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/problem+json"));
            assertThat(missing.body()).contains("\"status\":404").contains("no job");
        }
    }

    private double refusedReports() {
        var registry = io.quarkus.arc.Arc.container().instance(io.micrometer.core.instrument.MeterRegistry.class).get();
        var counter = registry.find("spillway_agent_reports_refused").counter();
        return counter == null ? 0 : counter.count();
    }

    private FakeAgent agent(String name, String token) {
        return new FakeAgent(url.getHost(), url.getPort(), name, token);
    }
}
