package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Timestamp;
import dev.spillway.api.agent.v1.AgentServiceGrpc;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The core scenarios end to end: the packaged broker on embedded PostgreSQL and two real agent
 * processes (2 cpu each) on loopback.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EndToEndIT {

    private ClusterFixture fx;

    @BeforeAll
    void start() throws IOException {
        fx = new ClusterFixture("e2e", 2, "4s");
    }

    @AfterAll
    void stop() {
        if (fx != null) fx.close();
    }

    @Test
    void fiftyTasksBeyondCapacityAllSucceedWithoutOverCommittingANode() {
        String id = fx.submit(ClusterFixture.shellJob(50, 1000,
                "echo \"task $SPILLWAY_TASK_INDEX of $SPILLWAY_TASK_COUNT\"; echo \"to stderr\" >&2; sleep 0.3"));

        JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(120));

        assertThat(job.getTasksList()).hasSize(50).allSatisfy(t -> {
            assertThat(t.getState()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED);
            assertThat(t.getExitCode()).isZero();
        });
        assertThat(ClusterFixture.finishedOk(job)).isTrue();
        assertThat(job.getTasksList().stream().map(Task::getNode).distinct()).containsExactlyInAnyOrder("agent-1", "agent-2");
        // Each task holds 1 cpu from its placement to its end; each node offers 2.
        Map<String, List<Task>> byNode = new HashMap<>();
        job.getTasksList().forEach(t -> byNode.computeIfAbsent(t.getNode(), n -> new ArrayList<>()).add(t));
        byNode.forEach((node, tasks) -> assertThat(maxConcurrent(tasks)).as("tasks held at once on %s", node).isLessThanOrEqualTo(2));

        String out = logs(id, 7, false);
        assertThat(out).isEqualTo("task 7 of 50\n");
        assertThat(logs(id, 7, true)).isEqualTo("to stderr\n");
    }

    @Test
    void anAgentKilledMidTaskLosesItsTasksToTheOtherAgentAndItsLateReportIsRefused() throws Exception {
        // Four 1-cpu tasks fill both agents; kill agent-1 while its two run.
        String id = fx.submit(ClusterFixture.shellJob(4, 1000, "sleep 4"));
        List<WatchJobResponse> events = fx.watch(id);
        await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getTasksList().stream()
                .filter(t -> t.getState() == TaskState.TASK_STATE_RUNNING && t.getNode().equals("agent-1")).count() == 2);
        List<Integer> onKilled = fx.job(id).getTasksList().stream().filter(t -> t.getNode().equals("agent-1")).map(Task::getIndex).toList();

        fx.cluster.killAgent("agent-1");

        JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(90));
        assertThat(ClusterFixture.finishedOk(job)).isTrue();
        for (int index : onKilled) {
            Task t = job.getTasks(index);
            assertThat(t.getNode()).isEqualTo("agent-2");
            assertThat(t.getAttempt()).isEqualTo(2);
            assertThat(events).as("task %d's first attempt ends LOST", index)
                    .anyMatch(e -> e.getTaskIndex() == index && e.getAttempt() == 1 && e.getState() == TaskState.TASK_STATE_LOST);
        }

        // The dead agent's report of its first attempt arrives late: it must change nothing.
        double refusedBefore = ClusterFixture.metric(fx.metrics(), "spillway_agent_reports_refused_total");
        int index = onKilled.get(0);
        try (LateAgent late = new LateAgent("agent-1")) {
            late.register(AttemptStatus.newBuilder().setJobId(id).setTaskIndex(index).setAttempt(1)
                    .setState(AttemptState.ATTEMPT_STATE_EXITED).setExitCode(1)
                    .setEndTime(Timestamp.newBuilder().setSeconds(System.currentTimeMillis() / 1000)).build());
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> ClusterFixture.metric(fx.metrics(), "spillway_agent_reports_refused_total") > refusedBefore);
        }
        Task after = fx.job(id).getTasks(index);
        assertThat(after.getState()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED);
        assertThat(after.getAttempt()).isEqualTo(2);
        assertThat(after.getExitCode()).isZero();

        fx.cluster.startAgent("agent-1");
        await().atMost(Duration.ofSeconds(60)).until(() -> fx.readyNodes() == 2);
    }

    @Test
    void cancelStopsTheRunningProcessesOnTheMachine() {
        String id = fx.submit(ClusterFixture.shellJob(4, 1000, "sleep 600 & sleep 600; wait"));
        await().atMost(Duration.ofSeconds(60)).until(() -> processesOf(id).size() >= 4 * 3);

        fx.jobs.cancelJob(CancelJobRequest.newBuilder().setName(id).build());

        await().atMost(Duration.ofSeconds(30)).until(() -> processesOf(id).isEmpty());
        JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(30));
        assertThat(job.getJob().getState()).isEqualTo(dev.spillway.api.v1.JobState.JOB_STATE_CANCELLED);
        assertThat(job.getTasksList()).allSatisfy(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_STATE_CANCELLED));
    }

    /** Every live process whose environment names this job (a task's whole process tree inherits it). */
    static List<Long> processesOf(String jobId) throws IOException {
        byte[] needle = ("SPILLWAY_JOB_ID=" + jobId).getBytes();
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    byte[] env = Files.readAllBytes(p.resolve("environ"));
                    if (indexOf(env, needle) >= 0) pids.add(Long.parseLong(p.getFileName().toString()));
                } catch (IOException gone) {
                    // exited meanwhile, or not ours to read
                }
            }
        }
        return pids;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    private String logs(String id, int task, boolean stderr) {
        StringBuilder sb = new StringBuilder();
        fx.jobs.getTaskLogs(GetTaskLogsRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(id, task))
                        .setStream(stderr ? dev.spillway.api.v1.LogStream.LOG_STREAM_STDERR : dev.spillway.api.v1.LogStream.LOG_STREAM_STDOUT).build())
                .forEachRemaining(c -> sb.append(c.getData().toStringUtf8()));
        return sb.toString();
    }

    /** Largest number of tasks holding resources at the same instant, [assigned, finished). */
    static int maxConcurrent(List<Task> tasks) {
        TreeMap<Long, Integer> deltas = new TreeMap<>();
        for (Task t : tasks) {
            deltas.merge(micros(t.getAssignTime()), 1, Integer::sum);
            deltas.merge(micros(t.getFinishTime()), -1, Integer::sum);
        }
        int now = 0;
        int max = 0;
        for (int d : deltas.values()) {
            now += d;
            max = Math.max(max, now);
        }
        return max;
    }

    private static long micros(Timestamp t) {
        return t.getSeconds() * 1_000_000 + t.getNanos() / 1000;
    }

    /** Speaks the agent protocol as a node that comes back with a stale report. */
    private final class LateAgent implements AutoCloseable {
        private final ManagedChannel channel;
        private final StreamObserver<ConnectRequest> requests;
        private final List<ConnectResponse> received = new CopyOnWriteArrayList<>();
        private final String name;

        LateAgent(String name) throws IOException {
            this.name = name;
            Metadata headers = new Metadata();
            // The node's own credential, as the killed agent kept it in its work directory: the same node coming back.
            String token = Files.readString(fx.cluster.dataDir().resolve("agents").resolve(name).resolve("node-credential")).trim();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
            channel = fx.cluster.tls().channelBuilder(fx.cluster.brokerAddress())
                    .intercept(MetadataUtils.newAttachHeadersInterceptor(headers)).build();
            requests = AgentServiceGrpc.newStub(channel).connect(new StreamObserver<>() {
                @Override
                public void onNext(ConnectResponse value) {
                    received.add(value);
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                }
            });
        }

        void register(AttemptStatus late) {
            requests.onNext(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(name).setPool("onprem")
                    .setCapacity(Resources.newBuilder().setCpuMillis(2000).setMemoryMib(2048)).addAttempts(late)).build());
        }

        @Override
        public void close() {
            requests.onCompleted();
            channel.shutdownNow();
        }
    }
}
