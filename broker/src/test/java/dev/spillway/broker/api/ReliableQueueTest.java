package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Report;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListTasksRequest;
import dev.spillway.api.v1.ListTasksResponse;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.TaskTemplate;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import dev.spillway.broker.admission.SubmissionBatcher;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What an application is promised, tried through the real API on embedded PostgreSQL: a retried
 * submission stores one job; a job the database refuses fails alone, not its group-commit batch;
 * watchers over concurrent writers see every event once and in order; each job's count of queued
 * tasks matches its tasks whatever moved them; and a tenant's small job starts beside another
 * tenant's 200,000 queued tasks as soon as capacity frees.
 */
@QuarkusTest
class ReliableQueueTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    /** Pools and nodes of this run (the test database outlives runs). */
    private static final String RUN = UUID.randomUUID().toString().substring(0, 8);

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    Pool pool;

    @Inject
    SubmissionBatcher batcher;

    @Inject
    MeterRegistry registry;

    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<FakeAgent> agents = new CopyOnWriteArrayList<>();
    /** The fake nodes' heartbeats (an empty report every 500 ms), so the test's nodes stay within their lease. */
    private final java.util.concurrent.ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor();
    private JobServiceGrpc.JobServiceBlockingStub teamA;

    @BeforeEach
    void connect() {
        teamA = stub("reliable-a");
        heartbeats.scheduleWithFixedDelay(() -> agents.forEach(a -> {
            try {
                a.send(ConnectRequest.newBuilder().setReport(Report.getDefaultInstance()).build());
            } catch (RuntimeException closed) {
                // the test closed it
            }
        }), 500, 500, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    @AfterEach
    void close() {
        heartbeats.shutdownNow();
        agents.forEach(FakeAgent::close);
        channels.forEach(ManagedChannel::shutdownNow);
        // Whatever the test moved, every job's maintained count is its QUEUED tasks.
        long drifted = pool.query("""
                SELECT count(*) AS n FROM job j
                WHERE j.queued <> (SELECT count(*) FROM task t WHERE t.job_id = j.id AND t.state = 'QUEUED')""")
                .execute().await().atMost(WAIT).iterator().next().getLong("n");
        assertThat(drifted).as("jobs whose queued count differs from their QUEUED tasks").isZero();
    }

    private JobServiceGrpc.JobServiceBlockingStub stub(String tenant) {
        ManagedChannel channel = TestCallers.channel(url, TestCallers.key(keys, tenant, Role.SUBMITTER));
        channels.add(channel);
        return JobServiceGrpc.newBlockingStub(channel);
    }

    private static JobSpec job(String pool, int tasks) {
        return JobSpec.newBuilder().setName("reliable").setTaskCount(tasks)
                .setTask(TaskTemplate.newBuilder().addCommand("true").addPools(pool)
                        .setResources(Resources.newBuilder().setCpuMillis(500).setMemoryMib(64)))
                .build();
    }

    // ---- idempotent submission ----

    @Test
    void aRetriedSubmissionReturnsTheFirstJobAndAnotherSpecUnderItsIdIsRefused() {
        node("reliable-idem-1-" + RUN, "reliable-idem-" + RUN, 500);
        String requestId = UUID.randomUUID().toString();
        SubmitJobRequest first = SubmitJobRequest.newBuilder().setSpec(job("reliable-idem-" + RUN, 3)).setRequestId(requestId).build();
        String id = teamA.submitJob(first).getUid();
        long jobs = jobsOfTenant("reliable-a");

        assertThat(teamA.submitJob(first).getUid()).isEqualTo(id);
        assertThat(jobsOfTenant("reliable-a")).isEqualTo(jobs);

        var other = catchThrowableOfType(StatusRuntimeException.class, () -> teamA.submitJob(first.toBuilder()
                .setSpec(job("reliable-idem-" + RUN, 4)).build()));
        assertThat(other.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
        assertThat(other.getStatus().getDescription()).contains(id);
        assertThat(jobsOfTenant("reliable-a")).isEqualTo(jobs);

        // The id is the tenant's own: another tenant's same id is another job.
        assertThat(stub("reliable-b").submitJob(first).getUid()).isNotEqualTo(id);

        var tooLong = catchThrowableOfType(StatusRuntimeException.class, () -> teamA.submitJob(first.toBuilder()
                .setRequestId("x".repeat(129)).build()));
        assertThat(tooLong.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    }

    @Test
    void concurrentCallsWithOneRequestIdStoreOneJob() {
        node("reliable-idem-2-" + RUN, "reliable-idem-" + RUN, 500);
        SubmitJobRequest request = SubmitJobRequest.newBuilder().setSpec(job("reliable-idem-" + RUN, 1)).setRequestId(UUID.randomUUID().toString()).build();
        long before = jobsOfTenant("reliable-a");
        ExecutorService callers = Executors.newFixedThreadPool(8);
        try {
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 16; i++) calls.add(CompletableFuture.supplyAsync(() -> teamA.submitJob(request).getUid(), callers));
            Set<String> ids = new HashSet<>(calls.stream().map(CompletableFuture::join).toList());
            assertThat(ids).hasSize(1);
        } finally {
            callers.shutdownNow();
        }
        assertThat(jobsOfTenant("reliable-a")).isEqualTo(before + 1);
    }

    // ---- batch isolation ----

    @Test
    void aJobTheDatabaseRefusesFailsAloneNotItsBatch() {
        // Queued behind the writers' first jobs, the rest go to the database in large batches; job 150 breaks a constraint
        // (no tasks), which the validator would have caught, so only the database can refuse it.
        node("reliable-batch-1-" + RUN, "reliable-batch-" + RUN, 500);
        List<UUID> ids = new ArrayList<>();
        List<Uni<java.time.OffsetDateTime>> writes = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            UUID id = UUID.randomUUID();
            ids.add(id);
            JobSpec spec = job("reliable-batch-" + RUN, i == 150 ? 0 : 1).toBuilder().setTenant("reliable-a").build();
            writes.add(batcher.submit(new JobStore.NewJob(id, spec, "test", null)).memoize().indefinitely());
        }
        List<Boolean> stored = new ArrayList<>();
        for (Uni<java.time.OffsetDateTime> w : writes) stored.add(w.map(v -> true).onFailure().recoverWithItem(false).await().atMost(WAIT));
        for (int i = 0; i < 300; i++) assertThat(stored.get(i)).as("job %d stored", i).isEqualTo(i != 150);
        long rows = pool.preparedQuery("SELECT count(*) AS n FROM job WHERE id = ANY($1)").execute(Tuple.of(ids.toArray(UUID[]::new)))
                .await().atMost(WAIT).iterator().next().getLong("n");
        assertThat(rows).isEqualTo(299);
        // Leave nothing queued for the other tests' cycles.
        for (int i = 0; i < 300; i++) {
            if (i != 150) JobServiceGrpc.newBlockingStub(channels.get(0)).cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder()
                    .setName(ids.get(i).toString()).build());
        }
    }

    // ---- watches ----

    @Test
    void watchersOverConcurrentWritersSeeEveryEventOnceInOrder() throws Exception {
        String poolName = "reliable-watch-" + RUN;
        List<FakeAgent> nodes = new ArrayList<>();
        for (int i = 0; i < 4; i++) nodes.add(node("reliable-watch-" + i + "-" + RUN, poolName, 50 * 500));
        String id = teamA.submitJob(SubmitJobRequest.newBuilder().setSpec(job(poolName, 400)).build()).getUid();

        List<List<WatchJobResponse>> seen = new ArrayList<>();
        List<Thread> watchers = new ArrayList<>();
        for (int w = 0; w < 3; w++) {
            List<WatchJobResponse> events = new CopyOnWriteArrayList<>();
            seen.add(events);
            Thread t = new Thread(() -> teamA.withDeadlineAfter(60, java.util.concurrent.TimeUnit.SECONDS)
                    .watchJob(WatchJobRequest.newBuilder().setName(id).build()).forEachRemaining(events::add));
            watchers.add(t);
            t.start();
            if (w == 0) await().atMost(WAIT).until(() -> !events.isEmpty()); // the first sees the job from its start
        }
        // Each node runs what it is given, every node on its own stream: the broker writes their reports concurrently.
        runEverything(nodes, id);
        for (Thread t : watchers) t.join(WAIT.toMillis());

        Map<Long, String> stored = events(id);
        for (List<WatchJobResponse> events : seen) {
            assertThat(events.get(0).hasJob()).isTrue();
            List<Long> seqs = events.stream().skip(1).map(WatchJobResponse::getSequence).toList();
            assertThat(seqs).as("strictly increasing, no duplicates").isSortedAccordingTo(Long::compare).doesNotHaveDuplicates();
            long startedAfter = seqs.isEmpty() ? Long.MAX_VALUE : seqs.get(0) - 1;
            // Every event committed after the watcher's snapshot, and nothing else.
            List<Long> expected = stored.keySet().stream().filter(s -> s > startedAfter).sorted().toList();
            assertThat(seqs).isEqualTo(expected);
            assertThat(events.get(events.size() - 1).getJobState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        }
        assertThat(seen.get(0)).hasSize(1 + stored.size());
        assertThat(seen.get(0).get(0).getJob().getTaskCountsMap()).containsEntry("TASK_STATE_QUEUED", 400);
    }

    // ---- queue ----

    @Test
    void aTenantsSmallJobStartsBesideAnotherTenants200000QueuedTasks() {
        // Jobs that earlier tests left queued may run in any pool: they would take this node's slots (and its fake agent never
        // ends them). The comparison is between the two tenants of this test, so nobody else's work is left waiting.
        cancelEveryUnfinishedJob();
        String poolName = "reliable-fair-" + RUN;
        FakeAgent node = node("reliable-fair-1-" + RUN, poolName, 2 * 500);
        int perJob = 5000; // the test profile's most tasks per job
        List<String> big = new ArrayList<>();
        for (int i = 0; i < 40; i++) big.add(teamA.submitJob(SubmitJobRequest.newBuilder().setSpec(job(poolName, perJob)).build()).getUid());
        await().atMost(WAIT).until(() -> assigned(node).size() == 2);
        assertThat(assigned(node)).allMatch(a -> big.contains(a.getJobId()));
        await().atMost(WAIT).untilAsserted(() -> assertThat(registry.find("spillway_queue_depth").gauge().value())
                .as("the true number of queued tasks").isGreaterThanOrEqualTo(40.0 * perJob - 2));

        String small = stub("reliable-b").submitJob(SubmitJobRequest.newBuilder().setSpec(job(poolName, 1)).build()).getUid();
        // Capacity frees: the other tenant's task takes the slot, not the 199,998 queued before it.
        var done = assigned(node).get(0);
        node.send(report(done, AttemptState.ATTEMPT_STATE_EXITED));
        try {
            await().atMost(Duration.ofSeconds(5)).until(() -> assigned(node).size() == 3);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("no placement within 5 s of capacity freeing; the node's stream: " + node.error + "; its tasks: "
                    + pool.query("SELECT t.job_id, t.idx, t.state, t.attempt, t.node FROM task t WHERE t.state IN ('ASSIGNED', 'RUNNING') OR t.job_id = '"
                    + small + "'").execute().await().atMost(WAIT).stream().map(Row::deepToString).toList() + "; nodes: "
                    + pool.query("SELECT name, state FROM node WHERE pool = '" + poolName + "'").execute().await().atMost(WAIT).stream()
                    .map(Row::deepToString).toList(), e);
        }
        assertThat(assigned(node).get(2).getJobId()).isEqualTo(small);

        for (String id : big) teamA.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(id).build());
        await().atMost(WAIT).until(() -> queued(big.get(0)) == 0);
    }

    @Test
    void aJobBeyondItsTenantsFirstThousandSaysWhyItWaits() {
        cancelEveryUnfinishedJob(); // jobs of other tests that name no pool would take this node
        String poolName = "reliable-crowd-" + RUN;
        FakeAgent node = node("reliable-crowd-1-" + RUN, poolName, 500);
        var crowd = stub("reliable-crowd");
        List<String> ids = new ArrayList<>();
        // One runs (the node holds one task), 1,001 wait: one more than a cycle reads of a tenant.
        for (int i = 0; i < 1002; i++) ids.add(crowd.submitJob(SubmitJobRequest.newBuilder().setSpec(job(poolName, 1)).build()).getUid());
        await().atMost(WAIT).until(() -> assigned(node).size() == 1);
        String last = ids.get(ids.size() - 1);
        await().atMost(WAIT).untilAsserted(() -> assertThat(crowd.getJob(GetJobRequest.newBuilder().setName(last).build())
                .getPendingReason()).contains("waiting its turn").contains("reliable-crowd has 1001 jobs with queued tasks"));
        String running = assigned(node).get(0).getJobId();
        assertThat(crowd.getJob(GetJobRequest.newBuilder().setName(running).build()).getPendingReason())
                .as("a job with nothing queued does not wait").isEmpty();
        // Of the first thousand, a cycle reads only what the node could take plus a look-ahead (the tenant's allowance for the
        // shape); a job beyond it is not read, yet it says the same as one that was read and could not be placed.
        await().atMost(WAIT).untilAsserted(() -> assertThat(registry.find("spillway_scheduling_tasks_read").gauge().value())
                .as("16 of the look-ahead, no free room: not one task of each of the thousand jobs").isEqualTo(16));
        String read = ids.stream().filter(id -> !id.equals(running)).findFirst().orElseThrow();
        String notRead = ids.get(900);
        await().atMost(WAIT).untilAsserted(() -> {
            String readReason = crowd.getJob(GetJobRequest.newBuilder().setName(read).build()).getPendingReason();
            assertThat(readReason).isNotEmpty().doesNotContain("waiting its turn");
            assertThat(crowd.getJob(GetJobRequest.newBuilder().setName(notRead).build()).getPendingReason()).isEqualTo(readReason);
        });

        for (String id : ids) crowd.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(id).build());
    }

    // ---- helpers ----

    private FakeAgent node(String name, String poolName, long cpuMillis) {
        FakeAgent agent = new FakeAgent(url.getHost(), url.getPort(), name, "test-agent-token");
        agent.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(name).setPool(poolName)
                .setCapacity(Resources.newBuilder().setCpuMillis(cpuMillis).setMemoryMib(64 * 1024))).build());
        await().atMost(WAIT).until(() -> agent.registered() != null);
        agents.add(agent); // heartbeats from now on
        return agent;
    }

    private void cancelEveryUnfinishedJob() {
        ManagedChannel channel = TestCallers.channel(url, TestCallers.key(keys, "default", Role.ADMIN));
        channels.add(channel);
        var jobs = JobServiceGrpc.newBlockingStub(channel);
        String token = "";
        do {
            var page = jobs.listJobs(dev.spillway.api.v1.ListJobsRequest.newBuilder().setPageSize(1000).setPageToken(token)
                    .setFilter("state = QUEUED OR state = RUNNING").build());
            for (var j : page.getJobsList()) jobs.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(j.getUid()).build());
            token = page.getNextPageToken();
        } while (!token.isEmpty());
    }

    private static List<dev.spillway.api.agent.v1.Assign> assigned(FakeAgent agent) {
        return agent.received.stream().filter(ConnectResponse::hasAssign).map(ConnectResponse::getAssign).toList();
    }

    private static ConnectRequest report(dev.spillway.api.agent.v1.Assign a, AttemptState state) {
        return ConnectRequest.newBuilder().setReport(Report.newBuilder().addAttempts(AttemptStatus.newBuilder().setJobId(a.getJobId())
                .setTaskIndex(a.getTaskIndex()).setAttempt(a.getAttempt()).setState(state).setExitCode(0))).build();
    }

    /** Answers every assignment on every node with RUNNING then EXITED 0 until the job has finished. */
    private void runEverything(List<FakeAgent> nodes, String id) {
        Map<FakeAgent, Integer> answered = new HashMap<>();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() -> {
            for (FakeAgent n : nodes) {
                List<dev.spillway.api.agent.v1.Assign> got = assigned(n);
                int from = answered.getOrDefault(n, 0);
                for (dev.spillway.api.agent.v1.Assign a : got.subList(from, got.size())) {
                    n.send(report(a, AttemptState.ATTEMPT_STATE_RUNNING));
                    n.send(report(a, AttemptState.ATTEMPT_STATE_EXITED));
                }
                answered.put(n, got.size());
            }
            return teamA.getJob(GetJobRequest.newBuilder().setName(id).build()).getState() == JobState.JOB_STATE_SUCCEEDED;
        });
        ListTasksResponse tasks = teamA.listTasks(ListTasksRequest.newBuilder().setParent(id).setPageSize(1000).build());
        assertThat(tasks.getTasksList()).hasSize(400).allMatch(t -> t.getState() == TaskState.TASK_STATE_SUCCEEDED && t.getAttempt() == 1);
    }

    private Map<Long, String> events(String id) {
        Map<Long, String> out = new HashMap<>();
        for (Row r : pool.preparedQuery("SELECT seq, idx, state FROM task_event WHERE job_id = $1").execute(Tuple.of(UUID.fromString(id)))
                .await().atMost(WAIT)) {
            out.put(r.getLong("seq"), r.getInteger("idx") + ":" + r.getString("state"));
        }
        return out;
    }

    private long jobsOfTenant(String tenant) {
        return pool.preparedQuery("SELECT count(*) AS n FROM job WHERE tenant = $1").execute(Tuple.of(tenant))
                .await().atMost(WAIT).iterator().next().getLong("n");
    }

    private int queued(String id) {
        return pool.preparedQuery("SELECT queued FROM job WHERE id = $1").execute(Tuple.of(UUID.fromString(id)))
                .await().atMost(WAIT).iterator().next().getInteger("queued");
    }
}
