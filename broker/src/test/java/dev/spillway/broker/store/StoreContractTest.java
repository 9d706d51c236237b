package dev.spillway.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Duration;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.RetryPolicy;
import dev.spillway.api.v1.TaskTemplate;
import dev.spillway.core.filter.Condition;
import dev.spillway.core.lifecycle.JobState;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.task.AttemptOutcome;
import dev.spillway.core.task.TaskState;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The store's contract, run against a real PostgreSQL with the real migrations: subclasses say
 * which server (embedded here, Testcontainers where Docker runs, or any URL).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class StoreContractTest {

    private Vertx vertx;
    private Pool pool;
    JobStore jobs;
    TaskStore tasks;
    LeaderStore leader;
    Fencing fencing;
    NodeStore nodes;

    /** JDBC URL, user and password of a server this test may write to. */
    abstract String[] database();

    @BeforeAll
    void connect() {
        String[] db = database();
        Flyway.configure().dataSource(db[0], db[1], db[2]).cleanDisabled(false).load().clean();
        Flyway.configure().dataSource(db[0], db[1], db[2]).load().migrate();
        vertx = Vertx.vertx();
        pool = io.vertx.mutiny.pgclient.PgBuilder.pool()
                .connectingTo(io.vertx.pgclient.PgConnectOptions.fromUri(db[0].substring(5)).setUser(db[1]).setPassword(db[2]))
                .with(new io.vertx.sqlclient.PoolOptions().setMaxSize(4))
                .using(vertx)
                .build();
        jobs = new JobStore(pool);
        leader = new LeaderStore(pool);
        fencing = new Fencing();
        fencing.hold(leader.take("store-test", "127.0.0.1:1", java.time.Duration.ofMinutes(10), false).await().indefinitely().epoch());
        tasks = new TaskStore(pool, fencing);
        nodes = new NodeStore(pool, fencing);
        nodes.register("n1", "onprem", "on-prem", new dev.spillway.core.scheduling.Resources(4000, 8192, 0), Map.of(), "test", false)
                .await().indefinitely();
    }

    @AfterAll
    void disconnect() {
        if (pool != null) pool.closeAndAwait();
        if (vertx != null) vertx.closeAndAwait();
    }

    static JobSpec spec(int tasks, int retries) {
        return JobSpec.newBuilder().setName("t").setTenant("team-a").setTaskCount(tasks).putLabels("kind", "test")
                .setTask(TaskTemplate.newBuilder().addCommand("true").setResources(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(512)))
                .setRetry(RetryPolicy.newBuilder().setMaxRetries(retries).setInitialBackoff(Duration.newBuilder().setSeconds(60))
                        .setMaxBackoff(Duration.newBuilder().setSeconds(300)))
                .build();
    }

    UUID submit(int taskCount, int retries) {
        UUID id = UUID.randomUUID();
        jobs.insertAll(java.util.List.of(new JobStore.NewJob(id, spec(taskCount, retries), "apikey:test", null))).await().indefinitely();
        return id;
    }

    List<TaskStore.Assigned> place(UUID job, int index, int seenAttempt, String node) {
        return tasks.assign(List.of(new Placement(new TaskRef(job.toString(), index, seenAttempt), node,
                new dev.spillway.core.scheduling.Resources(1000, 512, 0), 1.0, 1)), new DecisionLog.Entries(null, java.util.Map.of(
                new DecisionLog.JobNode(job, node), new DecisionLog.Entry("default", "dc1", "", "site:default", "no jurisdiction required",
                        List.of())))).await().indefinitely();
    }

    Row task(UUID job, int index) {
        return pool.preparedQuery("SELECT * FROM task WHERE job_id = $1 AND idx = $2").execute(Tuple.of(job, index))
                .await().indefinitely().iterator().next();
    }

    @Test
    void aJobIsStoredWithEveryTaskQueued() {
        UUID id = submit(1000, 0);
        var rows = jobs.tasks(id, -1, 1000, Condition.ALWAYS).await().indefinitely();
        assertThat(rows).hasSize(1000).allSatisfy(t -> assertThat(t.state()).isEqualTo(TaskState.QUEUED));
        assertThat(jobs.find(id).await().indefinitely().spec().getTaskCount()).isEqualTo(1000);
    }

    @Test
    void placementIsACompareAndSetOnTheAttemptTheSnapshotSaw() {
        UUID id = submit(2, 0);
        assertThat(place(id, 0, 0, "n1")).singleElement().satisfies(a -> assertThat(a.attempt()).isEqualTo(1));
        assertThat(place(id, 0, 0, "n1")).as("a second plan from the same stale snapshot").isEmpty();
        assertThat(place(id, 1, 0, "no-such-node")).as("a node that is not READY").isEmpty();
        assertThat(task(id, 0).getString("state")).isEqualTo("ASSIGNED");
        assertThat(task(id, 1).getString("state")).isEqualTo("QUEUED");
    }

    @Test
    void everyAssignedAttemptHasItsDecisionLogRowAndARefusedPlacementWritesNone() {
        UUID id = submit(2, 0);
        place(id, 0, 0, "n1");
        place(id, 0, 0, "n1"); // stale: refused
        place(id, 1, 0, "no-such-node"); // refused
        var log = new DecisionLog(pool);
        assertThat(log.list(null, id, Condition.ALWAYS, null, 10).await().indefinitely()).singleElement().satisfies(d -> {
            assertThat(d.index()).isZero();
            assertThat(d.attempt()).isEqualTo(1);
            assertThat(d.tenant()).isEqualTo("team-a");
            assertThat(d.node()).isEqualTo("n1");
            assertThat(d.location()).isEqualTo("site:default");
            assertThat(d.policyVersion()).isNull();
        });
        assertThat(log.list(new String[] {"team-b"}, null, Condition.ALWAYS, null, 10).await().indefinitely()).as("another tenant's filter").isEmpty();
    }

    @Test
    void reportsThatQueuedUpAreRecordedInOneTransactionAsIfOneByOne() {
        UUID a = submit(2, 0);
        UUID b = submit(1, 1);
        place(a, 0, 0, "n1");
        place(a, 1, 0, "n1");
        place(b, 0, 0, "n1");
        Instant now = Instant.now();
        var reported = tasks.report("n1",
                List.of(new TaskStore.StartReport(a, 0, 1, now), new TaskStore.StartReport(a, 1, 1, now),
                        new TaskStore.StartReport(b, 0, 1, now), new TaskStore.StartReport(a, 0, 1, now),
                        new TaskStore.StartReport(a, 0, 7, now)),
                List.of(new TaskStore.EndReport(a, 0, 1, new AttemptOutcome.Exited(0), 0, new TaskStore.Usage(12, 3)),
                        new TaskStore.EndReport(a, 1, 1, new AttemptOutcome.Exited(0), 0, TaskStore.Usage.NONE),
                        new TaskStore.EndReport(b, 0, 1, new AttemptOutcome.Exited(2), 2, TaskStore.Usage.NONE),
                        new TaskStore.EndReport(a, 0, 1, new AttemptOutcome.Exited(1), 1, TaskStore.Usage.NONE)),
                now).await().indefinitely();

        assertThat(reported.started()).as("a repeated start is recorded once; another attempt's is refused")
                .containsExactly(true, true, true, false, false);
        assertThat(reported.ended().get(0)).isEqualTo(new TaskStore.Ended(TaskState.SUCCEEDED, true));
        assertThat(reported.ended().get(1)).isEqualTo(new TaskStore.Ended(TaskState.SUCCEEDED, true));
        assertThat(reported.ended().get(2)).as("a failure with a retry left goes back to the queue")
                .isEqualTo(new TaskStore.Ended(TaskState.QUEUED, false));
        assertThat(reported.ended().get(3)).as("the repeated end finds its task decided").isNull();

        assertThat(jobs.find(a).await().indefinitely().state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(task(a, 0).getLong("cpu_time_ms")).isEqualTo(12);
        assertThat(task(a, 0).getInteger("exit_code")).isZero();
        assertThat(task(b, 0).getString("state")).isEqualTo("QUEUED");
        assertThat(pool.preparedQuery("SELECT queued FROM job WHERE id = $1").execute(Tuple.of(b)).await().indefinitely()
                .iterator().next().getInteger(0)).isEqualTo(1);
        // Each job's events in the order they happened: assigned, started, then the attempt's end (and the re-queue after it).
        assertThat(events(a, 0)).containsExactly("ASSIGNED", "RUNNING", "SUCCEEDED");
        assertThat(events(b, 0)).containsExactly("ASSIGNED", "RUNNING", "FAILED", "QUEUED");
    }

    List<String> events(UUID job, int index) {
        List<String> out = new java.util.ArrayList<>();
        for (Row r : pool.preparedQuery("SELECT state FROM task_event WHERE job_id = $1 AND idx = $2 ORDER BY seq")
                .execute(Tuple.of(job, index)).await().indefinitely()) {
            out.add(r.getString(0));
        }
        return out;
    }

    @Test
    void aSuccessfulAttemptFinishesTheJobAndALateReportIsRefused() {
        UUID id = submit(1, 0);
        place(id, 0, 0, "n1");
        assertThat(tasks.started(id, 0, 1, "n1", Instant.now()).await().indefinitely()).isTrue();
        var ended = tasks.ended(id, 0, 1, "n1", new AttemptOutcome.Exited(0), 0, TaskStore.Usage.NONE, Instant.now()).await().indefinitely();
        assertThat(ended.state()).isEqualTo(TaskState.SUCCEEDED);
        assertThat(ended.jobFinished()).isTrue();
        assertThat(jobs.find(id).await().indefinitely().state()).isEqualTo(JobState.SUCCEEDED);

        var late = tasks.ended(id, 0, 1, "n1", new AttemptOutcome.Exited(1), 1, TaskStore.Usage.NONE, Instant.now()).await().indefinitely();
        assertThat(late).isNull();
        assertThat(task(id, 0).getString("state")).isEqualTo("SUCCEEDED");
    }

    @Test
    void aFailureWithRetriesLeftRequeuesAfterTheBackoff() {
        UUID id = submit(1, 1);
        place(id, 0, 0, "n1");
        var ended = tasks.ended(id, 0, 1, "n1", new AttemptOutcome.Exited(3), 3, TaskStore.Usage.NONE, Instant.now()).await().indefinitely();
        assertThat(ended.state()).isEqualTo(TaskState.QUEUED);
        Row t = task(id, 0);
        assertThat(t.getInteger("failures")).isEqualTo(1);
        assertThat(t.getOffsetDateTime("not_before").toInstant()).isAfter(Instant.now().plusSeconds(30));
        assertThat(place(id, 0, 1, "n1")).singleElement().satisfies(a -> assertThat(a.attempt()).isEqualTo(2));
        var second = tasks.ended(id, 0, 2, "n1", new AttemptOutcome.Exited(3), 3, TaskStore.Usage.NONE, Instant.now()).await().indefinitely();
        assertThat(second.state()).isEqualTo(TaskState.FAILED);
        assertThat(jobs.find(id).await().indefinitely().state()).isEqualTo(JobState.FAILED);
    }

    @Test
    void aLostNodesTasksAreRequeuedOnce() {
        nodes.register("n-lost", "onprem", "on-prem", new dev.spillway.core.scheduling.Resources(4000, 8192, 0), Map.of(), "test", false)
                .await().indefinitely();
        UUID id = submit(2, 0);
        place(id, 0, 0, "n-lost");
        place(id, 1, 0, "n-lost");
        var requeued = tasks.nodeLost("n-lost", Instant.now()).await().indefinitely();
        assertThat(requeued).hasSize(2).allSatisfy(r -> assertThat(r.state()).isEqualTo(TaskState.QUEUED));
        assertThat(task(id, 0).getInteger("losses")).isEqualTo(1);
        assertThat(task(id, 0).getInteger("failures")).isZero();
        assertThat(tasks.nodeLost("n-lost", Instant.now()).await().indefinitely()).as("already lost").isEmpty();
        var late = tasks.started(id, 0, 1, "n-lost", Instant.now()).await().indefinitely();
        assertThat(late).as("the lost attempt's late start").isFalse();
    }

    @Test
    void cancelClosesEveryUnfinishedTaskAndTheJob() {
        UUID id = submit(3, 0);
        place(id, 0, 0, "n1");
        tasks.started(id, 0, 1, "n1", Instant.now()).await().indefinitely();
        var cancelled = jobs.cancel(id).await().indefinitely();
        assertThat(cancelled.count()).isEqualTo(3);
        assertThat(cancelled.onNodes()).as("only the tasks a node holds are to be killed").singleElement()
                .satisfies(c -> assertThat(c.index()).isZero())
                .satisfies(c -> assertThat(c.node()).isEqualTo("n1"))
                .satisfies(c -> assertThat(c.previousState()).isEqualTo(TaskState.RUNNING));
        assertThat(jobs.find(id).await().indefinitely().state()).isEqualTo(JobState.CANCELLED);
        assertThat(jobs.tasks(id, -1, 10, Condition.ALWAYS).await().indefinitely()).as("every task cancelled").hasSize(3).allSatisfy(t -> assertThat(t.state()).isEqualTo(TaskState.CANCELLED));
        var again = jobs.cancel(id).await().indefinitely();
        assertThat(again.count()).as("idempotent").isZero();
        assertThat(again.onNodes()).isEmpty();
        assertThat(tasks.ended(id, 0, 1, "n1", new AttemptOutcome.Exited(143), 143, TaskStore.Usage.NONE, Instant.now())
                .await().indefinitely()).as("the killed process's report").isNull();
    }

    @Test
    void theLeaseIsTakenOnlyOnceExpiredAndADeposedLeadersWritesChangeNothing() {
        long mine = fencing.epoch();
        java.time.Duration ttl = java.time.Duration.ofMinutes(10);
        assertThat(leader.take("other", "127.0.0.1:2", ttl, false).await().indefinitely()).as("held: no takeover").isNull();
        assertThat(leader.renew("other", mine, "127.0.0.1:2", ttl).await().indefinitely()).as("only the holder renews").isNull();
        LeaderStore.Lease renewed = leader.renew("store-test", mine, "127.0.0.1:1", ttl).await().indefinitely();
        assertThat(renewed.epoch()).isEqualTo(mine);
        assertThat(renewed.expiresAt()).isAfter(renewed.dbNow().plus(java.time.Duration.ofMinutes(9)));
        UUID id = submit(2, 0);
        place(id, 0, 0, "n1");
        try {
            // Another broker takes over (as if this one had been paused past its lease): a takeover the epoch check must see.
            pool.query("UPDATE leader SET expires_at = now() - interval '1 second'").execute().await().indefinitely();
            LeaderStore.Lease other = leader.take("other", "127.0.0.1:2", ttl, false).await().indefinitely();
            assertThat(other.epoch()).isEqualTo(mine + 1);
            long[] refused = {0};
            fencing.onFenced(e -> refused[0] = e);
            long events = count("SELECT count(*) FROM task_event WHERE job_id = '" + id + "'");
            assertThat(fenced(() -> place(id, 1, 0, "n1"))).as("a plan commit").isTrue();
            assertThat(fenced(() -> tasks.started(id, 0, 1, "n1", Instant.now()).await().indefinitely())).as("an attempt report").isTrue();
            assertThat(fenced(() -> tasks.nodeLost("n1", Instant.now()).await().indefinitely())).as("a node lease").isTrue();
            assertThat(fenced(() -> nodes.setState("n1", dev.spillway.core.lifecycle.NodeState.DRAINING).await().indefinitely())).isTrue();
            assertThat(refused[0]).as("the broker is told its epoch was refused").isEqualTo(mine);
            assertThat(task(id, 0).getString("state")).isEqualTo("ASSIGNED");
            assertThat(task(id, 1).getString("state")).isEqualTo("QUEUED");
            assertThat(count("SELECT count(*) FROM task_event WHERE job_id = '" + id + "'")).as("no event written").isEqualTo(events);
            assertThat(count("SELECT count(*) FROM node WHERE name = 'n1' AND state = 'READY'")).isEqualTo(1);
            assertThat(count("SELECT count(*) FROM task_event WHERE job_id = '" + id + "' AND state = 'ASSIGNED' AND epoch = " + mine))
                    .as("the events it wrote while it led carry its epoch").isEqualTo(1);
            assertThat(leader.renew("store-test", mine, "127.0.0.1:1", ttl).await().indefinitely()).as("the deposed leader cannot renew").isNull();
            assertThat(leader.release("store-test", mine).await().indefinitely()).as("nor release").isFalse();
            // The new leader releases; the next take is at once and raises the epoch again.
            assertThat(leader.release("other", other.epoch()).await().indefinitely()).isTrue();
        } finally {
            fencing.onFenced(e -> { });
            fencing.hold(leader.take("store-test", "127.0.0.1:1", ttl, false).await().indefinitely().epoch());
        }
        assertThat(fencing.epoch()).isEqualTo(mine + 2);
        assertThat(place(id, 1, 0, "n1")).as("the leader again, with its new epoch").hasSize(1);
    }

    @Test
    void aTakeoverWaitsForTheLeaderOnlyWritesUnderWay() throws Exception {
        long mine = fencing.epoch();
        java.time.Duration ttl = java.time.Duration.ofMinutes(10);
        UUID id = submit(1, 0);
        // A leader-only transaction passes its fence, then stalls (a pause, a wait for a lock) before it writes and commits.
        java.util.concurrent.CompletableFuture<Void> resume = new java.util.concurrent.CompletableFuture<>();
        var stalled = fencing.transaction(pool, (tx, epoch) -> io.smallrye.mutiny.Uni.createFrom().completionStage(resume)
                        .flatMap(v -> tx.preparedQuery("UPDATE task SET message = 'written by the stalled leader' WHERE job_id = $1").execute(Tuple.of(id))))
                .subscribeAsCompletionStage();
        java.util.concurrent.CompletableFuture<LeaderStore.Lease> takeover = new java.util.concurrent.CompletableFuture<>();
        try {
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> count(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'leader' AND l.mode = 'RowShareLock'") > 0);
            // Another broker takes the lease (forced here: as if it had run out meanwhile): the takeover waits for the stalled transaction.
            leader.take("other", "127.0.0.1:2", ttl, true).subscribe().with(takeover::complete, takeover::completeExceptionally);
            org.awaitility.Awaitility.await().during(java.time.Duration.ofMillis(500)).atMost(java.time.Duration.ofSeconds(2)).until(() -> !takeover.isDone());
            resume.complete(null);
            stalled.toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(takeover.get(10, java.util.concurrent.TimeUnit.SECONDS).epoch()).isEqualTo(mine + 1);
            assertThat(task(id, 0).getString("message")).as("committed before the takeover, which the new leader reads").isEqualTo("written by the stalled leader");
            assertThat(fenced(() -> tasks.finishDoneJobs().await().indefinitely())).as("and nothing after it").isTrue();
        } finally {
            resume.complete(null);
            fencing.hold(leader.take("store-test", "127.0.0.1:1", ttl, true).await().indefinitely().epoch());
        }
    }

    @Test
    void anOperatorsAdminKeyIsRegisteredOnceAndARevokedOneStaysRevoked() {
        var keys = new dev.spillway.broker.security.ApiKeys(new ApiKeyStore(pool), java.time.Clock.systemUTC());
        String secret = "spw_" + "0123456789abcdef".repeat(4);
        assertThat(keys.registerAdmin(secret, "default", "admin key from admin-key").await().indefinitely()).isTrue();
        assertThat(keys.registerAdmin(secret, "default", "admin key from admin-key").await().indefinitely())
                .as("a second replica starting with the same file").isFalse();
        var caller = keys.authenticate(secret).await().indefinitely();
        assertThat(caller.role()).isEqualTo(dev.spillway.core.access.Role.ADMIN);
        var row = new ApiKeyStore(pool).findByHash(dev.spillway.broker.security.Secrets.sha256(secret)).await().indefinitely();
        new ApiKeyStore(pool).revoke(row.id(), "apikey:test", null).await().indefinitely();
        assertThat(keys.registerAdmin(secret, "default", "admin key from admin-key").await().indefinitely())
                .as("revoked: a restart does not bring it back").isFalse();
        assertThat(new ApiKeyStore(pool).findByHash(dev.spillway.broker.security.Secrets.sha256(secret)).await().indefinitely().revokedAt()).isNotNull();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> keys.registerAdmin("spw_short", "default", "x").await().indefinitely())
                .hasMessageContaining("at least 32");
    }

    private long count(String sql) {
        return pool.query(sql).execute().await().indefinitely().iterator().next().getLong(0);
    }

    private static boolean fenced(Runnable write) {
        try {
            write.run();
            return false;
        } catch (RuntimeException e) {
            return Fencing.fenced(e);
        }
    }

    @Test
    void listingPagesNewestFirstAndFilters() {
        UUID a = submit(1, 0);
        UUID b = submit(1, 0);
        var page = jobs.list(1, null, null, JobStore.JOB_FILTER.parse("state = QUEUED labels.kind = test"), new String[] {"team-a"}).await().indefinitely();
        assertThat(page).singleElement().satisfies(j -> assertThat(j.id()).isEqualTo(b));
        var next = jobs.list(1, page.get(0).createdAt(), page.get(0).id(), Condition.ALWAYS, null).await().indefinitely();
        assertThat(next).singleElement().satisfies(j -> assertThat(j.id()).isEqualTo(a));
        assertThat(jobs.list(10, null, null, JobStore.JOB_FILTER.parse("labels.kind = other"), null).await().indefinitely()).isEmpty();
    }
}
