package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.BrokerServiceGrpc;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetStatusRequest;
import dev.spillway.api.v1.GetStatusResponse;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListNodesRequest;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.NodeState;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskState;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Two broker processes on one PostgreSQL (owned by the test, given to both as their external
 * database), local agents that know both: exactly one broker leads, and losing it (kill -9, a
 * freeze past its lease, the database restarting under both) loses nothing and runs nothing twice.
 */
class HighAvailabilityIT {

    private static final Duration TTL = Duration.ofSeconds(4);

    /** Brokers a and b on one database, sharing one data directory (TLS, admin key: what a Kubernetes Secret holds for every replica). */
    private static final class Pair implements AutoCloseable {
        final SharedDatabase db;
        final LocalCluster a;
        final LocalCluster b;
        final ManagedChannel toA;
        final ManagedChannel toB;

        Pair(String name, int agents, java.util.function.Consumer<LocalCluster.Options> customize) throws Exception {
            Path base = Files.createDirectories(Path.of("target", "it").toAbsolutePath());
            Path dir = Files.createTempDirectory(base, name + "-");
            db = SharedDatabase.start(dir.resolve("shared-postgres"));
            a = new LocalCluster(options(dir, "broker-a", customize));
            b = new LocalCluster(options(dir, "broker-b", customize));
            a.startBroker(); // a leads: the lease is free when it starts
            b.startBroker();
            toA = a.channel();
            toB = b.channel();
            String brokers = a.brokerAddress() + "," + b.brokerAddress();
            for (int i = 1; i <= agents; i++) a.startAgent("agent-" + i, a.mintJoinToken("agent-" + i), brokers);
            await().atMost(Duration.ofSeconds(60)).until(() -> readyNodes(toB) == agents);
        }

        private LocalCluster.Options options(Path dir, String id, java.util.function.Consumer<LocalCluster.Options> customize) {
            LocalCluster.Options o = new LocalCluster.Options();
            o.home = Path.of(System.getProperty("spillway.home", "..")).toAbsolutePath();
            o.dataDir = dir;
            o.port = LocalCluster.freePort();
            o.agents = 0;
            o.agentCpu = "2";
            o.agentMemory = "2Gi";
            o.brokerName = id;
            o.brokerJvmOptions = "-Xmx384m -XX:TieredStopAtLevel=1";
            o.brokerEnvironment.put("SPILLWAY_DATABASE_URL", db.url());
            o.brokerProperties.put("spillway.leader.id", id);
            o.brokerProperties.put("spillway.leader.ttl", TTL.toMillis() + "ms");
            o.brokerProperties.put("spillway.agents.lease", "10s");
            o.brokerProperties.put("spillway.agents.heartbeat-interval", "500ms");
            customize.accept(o);
            return o;
        }

        GetStatusResponse status(ManagedChannel via) {
            return BrokerServiceGrpc.newBlockingStub(via).withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
                    .getStatus(GetStatusRequest.getDefaultInstance());
        }

        String leader(ManagedChannel via) {
            GetStatusResponse s = status(via);
            return s.hasLeader() && s.getLeader().getHeld() ? s.getLeader().getHolder() : null;
        }

        @Override
        public void close() throws Exception {
            Spillway.close(toA);
            Spillway.close(toB);
            a.close(); // its agents drain and stop; a itself may be dead already
            b.close(); // the survivor stops bursting (terminating its cloud instances), then stops
            db.close();
        }
    }

    static long readyNodes(ManagedChannel channel) {
        return NodeServiceGrpc.newBlockingStub(channel).listNodes(ListNodesRequest.getDefaultInstance()).getNodesList().stream()
                .filter(n -> n.getState() == NodeState.NODE_STATE_READY).count();
    }

    private static String submit(ManagedChannel via, JobSpec spec) {
        return JobServiceGrpc.newBlockingStub(via).submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid();
    }

    private static dev.spillway.api.v1.Job job(ManagedChannel via, String id) {
        return JobServiceGrpc.newBlockingStub(via).getJob(GetJobRequest.newBuilder().setName(id).build());
    }

    /** Every task of the job reached SUCCEEDED exactly once (no attempt of a task succeeded after another had). */
    private static void assertEachTaskSucceededOnce(SharedDatabase db, String job, int tasks) throws Exception {
        List<List<String>> succeeded = db.query("SELECT idx, count(*) FROM task_event WHERE job_id = '" + job
                + "' AND state = 'SUCCEEDED' GROUP BY idx ORDER BY idx");
        assertThat(succeeded).as("tasks that succeeded").hasSize(tasks);
        assertThat(succeeded).allSatisfy(row -> assertThat(row.get(1)).as("task %s succeeded once", row.get(0)).isEqualTo("1"));
    }

    @Test
    void whenTheLeaderIsKilledTheFollowerTakesOverAndTheWorkFinishesOnce() throws Exception {
        try (Pair p = new Pair("ha-kill", 2, o -> {
            ClusterFixture.withLocalCloud(o, 2, "30s");
            o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "1s");
        })) {
            assertThat(p.leader(p.toB)).as("the broker started first leads").isEqualTo("broker-a");
            assertThat(p.status(p.toA).getBrokersList()).extracting(b -> b.getId() + ":" + b.getLeader())
                    .containsExactlyInAnyOrder("broker-a:true", "broker-b:false");
            long epoch = p.status(p.toB).getLeader().getEpoch();
            // More than the 4 on-prem cpus hold: the leader bursts into the local cloud while the tasks run.
            String id = submit(p.toB, ClusterFixture.shellJob(10, 1000, "sleep 4; echo \"done $SPILLWAY_TASK_INDEX\""));
            await().atMost(Duration.ofSeconds(60)).until(() -> job(p.toB, id).getTaskCountsMap().getOrDefault("TASK_STATE_RUNNING", 0) >= 4
                    && p.db.count("SELECT count(*) FROM cloud_instance WHERE provider_instance IS NOT NULL") > 0);

            long killedAt = System.nanoTime();
            p.a.broker().destroyForcibly();
            await().atMost(TTL.multipliedBy(2).plusSeconds(2)).pollInterval(Duration.ofMillis(50)).until(() -> "broker-b".equals(p.leader(p.toB)));
            long takeoverMillis = (System.nanoTime() - killedAt) / 1_000_000;
            System.out.println("failover: broker-b took over " + takeoverMillis + " ms after broker-a was killed (lease ttl " + TTL.toMillis() + " ms)");
            assertThat(takeoverMillis).as("takeover within 2 x the lease ttl").isLessThanOrEqualTo(TTL.multipliedBy(2).toMillis());
            assertThat(p.status(p.toB).getLeader().getEpoch()).as("a takeover raises the epoch").isEqualTo(epoch + 1);
            p.a.killBroker(); // reaps it

            await().atMost(Duration.ofSeconds(30)).until(() -> readyNodes(p.toB) >= 2);
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> job(p.toB, id).hasFinishTime());
            assertThat(job(p.toB, id).getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertEachTaskSucceededOnce(p.db, id, 10);
            // Each cloud request was launched once: the local cloud holds one machine per record that was launched.
            long launched = p.db.count("SELECT count(*) FROM cloud_instance WHERE provider_instance IS NOT NULL");
            long distinct = p.db.count("SELECT count(DISTINCT provider_instance) FROM cloud_instance WHERE provider_instance IS NOT NULL");
            assertThat(distinct).isEqualTo(launched);
            try (var files = Files.walk(p.a.dataDir().resolve("local-cloud"), 2)) {
                assertThat(files.filter(f -> f.getFileName().toString().endsWith(".instance")).count())
                        .as("machines the local cloud started, one per launched request").isEqualTo(launched);
            }
        }
    }

    @Test
    void aFrozenLeaderIsFencedOffAndStepsDownWhenItWakes() throws Exception {
        try (Pair p = new Pair("ha-freeze", 2, o -> { })) {
            assertThat(p.leader(p.toB)).isEqualTo("broker-a");
            long oldEpoch = p.status(p.toB).getLeader().getEpoch();
            String before = submit(p.toA, ClusterFixture.shellJob(2, 500, "echo before"));
            await().atMost(Duration.ofSeconds(60)).until(() -> job(p.toB, before).hasFinishTime());

            long pid = p.a.broker().pid();
            signal("STOP", pid);
            long lastEventOfOldEpoch;
            try {
                await().atMost(TTL.multipliedBy(3)).pollInterval(Duration.ofMillis(100)).until(() -> "broker-b".equals(p.leader(p.toB)));
                long newEpoch = p.status(p.toB).getLeader().getEpoch();
                assertThat(newEpoch).isEqualTo(oldEpoch + 1);
                // The frozen broker wrote nothing since it was frozen: this is the last event its epoch may ever have.
                lastEventOfOldEpoch = p.db.count("SELECT coalesce(max(seq), 0) FROM task_event");
                // Its agents notice the frozen broker (keepalive) and go to the new leader, which places new work.
                await().atMost(Duration.ofSeconds(40)).until(() -> readyNodes(p.toB) == 2
                        && p.db.count("SELECT count(*) FROM node WHERE state = 'READY'") == 2);
                String during = submit(p.toB, ClusterFixture.shellJob(4, 500, "echo during"));
                await().atMost(Duration.ofSeconds(60)).until(() -> job(p.toB, during).hasFinishTime());
                assertThat(job(p.toB, during).getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
                assertThat(p.db.count("SELECT count(*) FROM task_event WHERE job_id = '" + during + "' AND state = 'ASSIGNED' AND epoch = " + newEpoch))
                        .as("placed by the new leader, with its epoch").isEqualTo(4);
            } finally {
                signal("CONT", pid);
            }
            // Awake, the old leader finds its lease gone by its own clock and steps down: it says so, and serves as a follower.
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                GetStatusResponse s = p.status(p.toA);
                assertThat(s.getAnsweredBy()).isEqualTo("broker-a");
                assertThat(s.getBrokersList()).filteredOn(b -> b.getId().equals("broker-a")).singleElement()
                        .satisfies(b -> assertThat(b.getLeader()).isFalse());
                assertThat(metric(p.a, "spillway_leader{instance=\"broker-a\"}")).isEqualTo(0.0);
                assertThat(metric(p.b, "spillway_leader{instance=\"broker-b\"}")).isEqualTo(1.0);
            });
            String after = submit(p.toA, ClusterFixture.shellJob(3, 500, "echo after"));
            await().atMost(Duration.ofSeconds(60)).until(() -> job(p.toA, after).hasFinishTime());
            assertThat(job(p.toA, after).getState()).as("submitted to the old leader, placed by the new one").isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            // On the database: nothing was written with the old epoch after the takeover.
            assertThat(p.db.count("SELECT count(*) FROM task_event WHERE epoch = " + oldEpoch + " AND seq > " + lastEventOfOldEpoch))
                    .as("task events of the deposed epoch after the takeover").isZero();
            assertThat(p.db.count("SELECT count(*) FROM task_event WHERE job_id = '" + after + "' AND epoch IS DISTINCT FROM " + (oldEpoch + 1)
                    + " AND state <> 'QUEUED'")).as("every state change of the last job by the new leader").isZero();
            assertEachTaskSucceededOnce(p.db, after, 3);
        }
    }

    @Test
    void whenTheDatabaseRestartsUnderBothBrokersLeadershipReturnsAndNothingIsLost() throws Exception {
        try (Pair p = new Pair("ha-db-restart", 2, o -> { })) {
            String before = submit(p.toB, ClusterFixture.shellJob(4, 500, "echo before"));
            await().atMost(Duration.ofSeconds(60)).until(() -> job(p.toB, before).hasFinishTime());
            String running = submit(p.toB, ClusterFixture.shellJob(4, 1000, "sleep 3; echo across"));
            await().atMost(Duration.ofSeconds(30)).until(() -> job(p.toB, running).getTaskCountsMap().getOrDefault("TASK_STATE_RUNNING", 0) >= 2);

            p.db.restart(Duration.ofSeconds(TTL.toSeconds() + 1)); // down longer than a lease: the leader must step down meanwhile

            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250)).ignoreExceptions()
                    .until(() -> p.leader(p.toA) != null && p.leader(p.toA).equals(p.leader(p.toB)));
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> readyNodes(p.toB) == 2);
            await().atMost(Duration.ofSeconds(120)).ignoreExceptions().until(() -> job(p.toB, running).hasFinishTime());
            assertThat(job(p.toB, running).getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertEachTaskSucceededOnce(p.db, running, 4);
            assertThat(job(p.toA, before).getState()).as("work finished before the restart is still there").isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            String after = submit(p.toA, ClusterFixture.shellJob(2, 500, "echo after"));
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> job(p.toA, after).hasFinishTime());
            assertThat(job(p.toA, after).getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(JobAndTasks.read(JobServiceGrpc.newBlockingStub(p.toA), after).getTasksList())
                    .isNotEmpty().allSatisfy(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED));
        }
    }

    @Test
    void aFollowerServesTheApiWithTheLeadersViewOfTheCluster() throws Exception {
        // The leader's cycle runs once a minute unless woken: work submitted to the follower runs at once only if the follower
        // wakes the leader (NOTIFY through the database).
        try (Pair p = new Pair("ha-follower", 2, o -> o.brokerProperties.put("spillway.scheduler.interval", "60s"))) {
            assertThat(p.leader(p.toA)).isEqualTo("broker-a");
            var viaFollower = JobServiceGrpc.newBlockingStub(p.toB);
            // Submitted to the follower, placed by the leader; its logs come from the agent's stream to the leader.
            String hello = submit(p.toB, ClusterFixture.shellJob(1, 500, "echo hello from task $SPILLWAY_TASK_INDEX"));
            await().atMost(Duration.ofSeconds(20)).until(() -> job(p.toB, hello).hasFinishTime());
            StringBuilder out = new StringBuilder();
            viaFollower.getTaskLogs(dev.spillway.api.v1.GetTaskLogsRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(hello, 0)).build())
                    .forEachRemaining(chunk -> out.append(chunk.getData().toStringUtf8()));
            assertThat(out.toString()).isEqualTo("hello from task 0\n");

            // Why work waits is the leader's scheduling cycle's to say: the follower passes it on. Four tasks fill the
            // four cpus, two wait.
            String marker = ClusterFixture.uniqueMarker();
            String sleeper = submit(p.toB, ClusterFixture.shellJob(6, 1000, "sleep 120; echo " + marker));
            await().atMost(Duration.ofSeconds(30)).until(() -> running(marker) && !job(p.toB, sleeper).getPendingReason().isEmpty());
            assertThat(job(p.toB, sleeper).getPendingReason()).isEqualTo(job(p.toA, sleeper).getPendingReason());
            var rest = p.b.tls().httpClient().build().send(java.net.http.HttpRequest.newBuilder(p.b.tls().url(p.b.brokerAddress(), "/api/v1/jobs/" + sleeper))
                    .header("Authorization", "Bearer " + p.b.adminKey()).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(rest.statusCode()).isEqualTo(200);
            assertThat(rest.body()).contains("\"pendingReason\":\"" + job(p.toA, sleeper).getPendingReason().substring(0, 10));

            // A cancel sent to the follower kills the running attempts on their nodes (only the leader can reach the agents).
            viaFollower.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(sleeper).build());
            await().atMost(Duration.ofSeconds(15)).until(() -> !running(marker));
            assertThat(job(p.toB, sleeper).getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
        }
    }

    @Test
    void policiesAndBudgetsSetThroughOneBrokerHoldOnEvery() throws Exception {
        // On-prem work priced at 1 USD a cpu-second, so that a budget is quick to exceed; followers reload budgets every second.
        try (Pair p = new Pair("ha-books", 1, o -> {
            o.brokerProperties.put("spillway.cost.rate-card.usd-per-cpu-hour", "3600");
            o.brokerProperties.put("spillway.cost.budget-every", "1s");
        })) {
            assertThat(p.leader(p.toA)).isEqualTo("broker-a");
            // A policy applied through the follower is in force on the leader (which admits with it too).
            dev.spillway.api.v1.PolicyServiceGrpc.newBlockingStub(p.toB).applyPolicies(dev.spillway.api.v1.ApplyPoliciesRequest.newBuilder()
                    .addFiles(dev.spillway.api.v1.PolicyFile.newBuilder().setName("queues.yaml").setText("""
                            apiVersion: spillway.dev/v1
                            kind: Tenant
                            metadata: {name: default}
                            spec: {weight: 1}
                            ---
                            apiVersion: spillway.dev/v1
                            kind: Queue
                            metadata: {name: urgent}
                            spec: {tenant: default, defaultPriority: 500}
                            """)).build());
            JobSpec queued = ClusterFixture.shellJob(1, 500, "true").toBuilder().setQueue("urgent").build();
            await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> submit(p.toA, queued) != null);

            // A hard budget set through the leader holds on the follower, whose quote prices the nodes the database lists.
            dev.spillway.api.v1.BudgetServiceGrpc.newBlockingStub(p.toA).setBudget(dev.spillway.api.v1.SetBudgetRequest.newBuilder()
                    .setBudget(dev.spillway.api.v1.Budget.newBuilder().setName("tight").setTenant("default").setPeriod("monthly")
                            .setLimit(dev.spillway.api.Usd.ofMicros(1_000_000)).setHard(true).setOnPrem(true)).build());
            JobSpec dear = ClusterFixture.shellJob(1, 1000, "true").toBuilder()
                    .setTask(ClusterFixture.shellJob(1, 1000, "true").getTask().toBuilder()
                            .setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(60))).build();
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(
                    org.assertj.core.api.Assertions.catchThrowableOfType(io.grpc.StatusRuntimeException.class, () -> submit(p.toB, dear)))
                    .as("a job that may cost 60 USD against 1 USD left, submitted to the follower").isNotNull()
                    .satisfies(e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.FAILED_PRECONDITION))
                    .satisfies(e -> assertThat(e.getStatus().getDescription()).contains("hard budget tight")));
        }
    }

    /** Whether a process whose command line carries {@code marker} runs on this machine. */
    private static boolean running(String marker) {
        return ProcessHandle.allProcesses().anyMatch(h -> h.info().commandLine().map(c -> c.contains(marker)).orElse(false));
    }

    private static void signal(String signal, long pid) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor()).as("kill -%s %d", signal, pid).isZero();
    }

    private static double metric(LocalCluster c, String line) throws IOException, InterruptedException {
        String metrics = c.tls().httpClient().build().send(java.net.http.HttpRequest.newBuilder(c.tls().url(c.brokerAddress(), "/q/metrics"))
                        .header("Authorization", "Bearer " + c.adminKey()).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        return ClusterFixture.metric(metrics, line);
    }
}
