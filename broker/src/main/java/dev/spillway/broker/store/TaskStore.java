package dev.spillway.broker.store;

import static dev.spillway.core.lifecycle.StateMachine.sqlList;

import dev.spillway.core.lifecycle.JobState;
import dev.spillway.core.lifecycle.NodeState;
import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.task.AttemptOutcome;
import dev.spillway.core.task.RetryPolicy;
import dev.spillway.core.task.TaskLifecycle;
import dev.spillway.core.task.TaskState;
import dev.spillway.core.task.TaskStateMachine;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Task transitions. Every write is a compare-and-set on (state, attempt) whose allowed source
 * states come from {@link TaskStateMachine}, and writes its task event in the same statement.
 * A write that matches no row means the caller's view was stale; it changes nothing.
 *
 * <p>Every transaction that writes task events first locks the rows of the jobs it touches
 * ({@link #lockJobs}, in id order), and holds them until it commits. So the events of one job
 * take their sequence numbers in commit order, and a watcher reading {@code seq > last} for one
 * job never skips one that commits later. The same lock guards each job's {@code queued} count
 * (its QUEUED tasks), which every move into or out of QUEUED maintains in the same statement.
 * Locks are always taken node, then jobs (in id order), then tasks, so writers cannot deadlock.
 */
@ApplicationScoped
public class TaskStore {

    private static final String ON_NODE = sqlList(TaskState.ON_NODE);

    private final Pool pool;
    private final Fencing fencing;

    public TaskStore(Pool pool, Fencing fencing) {
        this.pool = pool;
        this.fencing = fencing;
    }

    /** A placement that was committed: the task now runs attempt {@code attempt} on {@code node}. */
    public record Assigned(UUID jobId, int index, int attempt, String node) {
    }

    /**
     * Commits a plan's placements in one transaction. A placement is refused when its task is no
     * longer QUEUED at the attempt the snapshot saw, or its node is no longer READY (the node rows
     * are share-locked, so a node cannot be declared lost halfway through).
     */
    public Uni<List<Assigned>> assign(List<Placement> placements, DecisionLog.Entries decisions) {
        if (placements.isEmpty()) return Uni.createFrom().item(List.of());
        // The decision log: one entry per (job, node) pair of the plan, each attempt assigned gets its row in the same statement.
        Map<DecisionLog.JobNode, DecisionLog.Entry> entries = new java.util.LinkedHashMap<>();
        for (Placement p : placements) {
            DecisionLog.JobNode key = new DecisionLog.JobNode(UUID.fromString(p.task().jobId()), p.node());
            DecisionLog.Entry e = decisions.byJobNode().get(key);
            if (e == null) throw new IllegalArgumentException("no decision log entry for " + key);
            entries.put(key, e);
        }
        int m = entries.size();
        UUID[] dJobs = new UUID[m];
        String[][] d = new String[7][m];
        int k = 0;
        for (var en : entries.entrySet()) {
            DecisionLog.Entry e = en.getValue();
            dJobs[k] = en.getKey().jobId();
            d[0][k] = en.getKey().node();
            d[1][k] = e.pool();
            d[2][k] = e.region();
            d[3][k] = e.jurisdiction();
            d[4][k] = e.location();
            d[5][k] = e.residency();
            d[6][k] = e.rulesJson();
            k++;
        }
        int n = placements.size();
        UUID[] jobs = new UUID[n];
        Integer[] idx = new Integer[n];
        Integer[] attempts = new Integer[n];
        String[] nodes = new String[n];
        String[] messages = new String[n];
        for (int i = 0; i < n; i++) {
            Placement p = placements.get(i);
            jobs[i] = UUID.fromString(p.task().jobId());
            idx[i] = p.task().index();
            attempts[i] = p.task().attempt();
            nodes[i] = p.node();
            messages[i] = p.reason();
        }
        String[] distinctNodes = placements.stream().map(Placement::node).distinct().toArray(String[]::new);
        UUID[] distinctJobs = java.util.Arrays.stream(jobs).distinct().toArray(UUID[]::new);
        long[] epoch = new long[1];
        return pool.withTransaction(tx -> fencing.check(tx)
                .invoke(e -> epoch[0] = e)
                .flatMap(e -> tx.preparedQuery("SELECT name FROM node WHERE name = ANY($1) AND state = '" + NodeState.READY + "' ORDER BY name FOR SHARE")
                        .execute(Tuple.of(distinctNodes)))
                .flatMap(ready -> lockJobs(tx, distinctJobs).replaceWith(ready))
                .flatMap(ready -> {
                    List<String> readyNodes = new ArrayList<>();
                    for (Row r : ready) readyNodes.add(r.getString("name"));
                    return tx.preparedQuery("""
                            WITH u AS (
                              UPDATE task t SET state = 'ASSIGNED', attempt = t.attempt + 1, node = p.node,
                                     assigned_at = now(), started_at = NULL, finished_at = NULL, exit_code = NULL, cpu_time_ms = NULL, peak_memory_mib = NULL,
                                     reason = $7, message = p.message
                              FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[])
                                   AS p(job_id, idx, attempt, node, message)
                              WHERE t.job_id = p.job_id AND t.idx = p.idx AND t.attempt = p.attempt
                                AND t.state IN %s AND p.node = ANY($6)
                              RETURNING t.job_id, t.idx, t.attempt, t.node, t.message),
                            e AS (
                              INSERT INTO task_event (job_id, idx, attempt, state, node, reason, message, epoch)
                              SELECT job_id, idx, attempt, 'ASSIGNED', node, $7, message, $17 FROM u),
                            j AS (
                              UPDATE job SET queued = queued - c.n,
                                             state = CASE WHEN state IN %s THEN 'RUNNING' ELSE state END
                              FROM (SELECT job_id, count(*)::int AS n FROM u GROUP BY job_id) c
                              WHERE id = c.job_id
                              RETURNING id, tenant),
                            d AS (
                              INSERT INTO attempt_decision (job_id, idx, attempt, tenant, node, pool, region, jurisdiction, location,
                                                            policy_version, residency, rules)
                              SELECT u.job_id, u.idx, u.attempt, j.tenant, u.node, x.pool, x.region, x.jurisdiction, x.location,
                                     $16::bigint, x.residency, x.rules::jsonb
                              FROM u JOIN j ON j.id = u.job_id
                              JOIN unnest($8::uuid[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
                                   AS x(job_id, node, pool, region, jurisdiction, location, residency, rules)
                                ON x.job_id = u.job_id AND x.node = u.node)
                            SELECT job_id, idx, attempt, node FROM u""".formatted(sqlList(TaskStateMachine.sourcesOf(TaskState.ASSIGNED)),
                                    sqlList(JobState.MACHINE.sourcesOf(JobState.RUNNING))))
                            .execute(Tuple.from(new Object[] {jobs, idx, attempts, nodes, messages, readyNodes.toArray(String[]::new),
                                    ReasonCode.PLACED.code(), dJobs, d[0], d[1], d[2], d[3], d[4], d[5], d[6], decisions.policyVersion(), epoch[0]}));
                }))
                .map(rows -> {
                    List<Assigned> out = new ArrayList<>(rows.size());
                    for (Row r : rows) {
                        out.add(new Assigned(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt"), r.getString("node")));
                    }
                    return out;
                });
    }

    /** The agent started the attempt. False when the attempt is not current (the report is refused). */
    public Uni<Boolean> started(UUID jobId, int index, int attempt, String node, Instant at) {
        return report(node, List.of(new StartReport(jobId, index, attempt, at)), List.of(), at).map(r -> r.started().get(0));
    }

    /** For each attempt, whether it is its task's current one and still on {@code node} (ASSIGNED or RUNNING). */
    public Uni<List<Boolean>> live(String node, List<StartReport> attempts) {
        if (attempts.isEmpty()) return Uni.createFrom().item(List.of());
        UUID[] jobs = attempts.stream().map(StartReport::jobId).toArray(UUID[]::new);
        Integer[] idx = attempts.stream().map(StartReport::index).toArray(Integer[]::new);
        Integer[] tries = attempts.stream().map(StartReport::attempt).toArray(Integer[]::new);
        return pool.preparedQuery("""
                SELECT DISTINCT t.job_id, t.idx, t.attempt FROM unnest($1::uuid[], $2::int[], $3::int[]) AS p(job_id, idx, attempt)
                JOIN task t ON t.job_id = p.job_id AND t.idx = p.idx AND t.attempt = p.attempt
                WHERE t.node = $4 AND t.state IN """ + ON_NODE)
                .execute(Tuple.of(jobs, idx, tries, node))
                .map(rows -> {
                    java.util.Set<String> live = new java.util.HashSet<>();
                    for (Row r : rows) live.add(key(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt")));
                    return attempts.stream().map(a -> live.contains(key(a.jobId(), a.index(), a.attempt()))).toList();
                });
    }

    /** An attempt the store places on a node. */
    public record OnNode(UUID jobId, int index, int attempt, TaskState state) {
    }

    /** Every attempt the store believes {@code node} holds (ASSIGNED or RUNNING). */
    public Uni<List<OnNode>> onNode(String node) {
        return pool.preparedQuery("SELECT job_id, idx, attempt, state FROM task WHERE node = $1 AND state IN " + ON_NODE)
                .execute(Tuple.of(node))
                .map(rows -> {
                    List<OnNode> out = new ArrayList<>();
                    for (Row r : rows) out.add(new OnNode(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt"), TaskState.valueOf(r.getString("state"))));
                    return out;
                });
    }

    /** Usage reported with an ended attempt. */
    public record Usage(long cpuTimeMillis, long peakMemoryMib) {
        public static final Usage NONE = new Usage(0, 0);
    }

    /** What an ended attempt did to its task; null when the report was stale and refused. */
    public record Ended(TaskState state, boolean jobFinished) {
    }

    /** An attempt ended ({@link #report} with this one end). Null when the report was stale and refused. */
    public Uni<Ended> ended(UUID jobId, int index, int attempt, String node, AttemptOutcome outcome, Integer exitCode,
                            Usage usage, Instant now) {
        return report(node, List.of(), List.of(new EndReport(jobId, index, attempt, outcome, exitCode, usage)), now)
                .map(r -> r.ended().get(0));
    }

    /** An attempt the agent reports started, at {@code at}. */
    public record StartReport(UUID jobId, int index, int attempt, Instant at) {
    }

    /** An attempt the agent reports ended. */
    public record EndReport(UUID jobId, int index, int attempt, AttemptOutcome outcome, Integer exitCode, Usage usage) {
    }

    /**
     * What a report did, in the order of its starts and ends: whether each start was recorded
     * (false: not the current attempt), and what each end did to its task (null: stale, refused;
     * so is an end that a report repeats).
     */
    public record Reported(List<Boolean> started, List<Ended> ended) {
    }

    /**
     * Records what an agent reported about {@code node}'s attempts, in one transaction: the
     * starts (each a compare-and-set from the states the task machine allows), then the ends
     * (each task read, {@link TaskLifecycle} deciding retry, re-queue, success or failure, and the
     * decision written as a compare-and-set on the attempt), then closes the jobs that have no
     * unfinished task left. An agent sends what changed as it happens; when it changes faster than
     * the store commits, the reports that queued up meanwhile arrive here as one: one commit, and
     * one statement per kind of write, whatever their number.
     */
    public Uni<Reported> report(String node, List<StartReport> starts, List<EndReport> ends, Instant now) {
        if (starts.isEmpty() && ends.isEmpty()) return Uni.createFrom().item(new Reported(List.of(), List.of()));
        UUID[] jobs = java.util.stream.Stream.concat(starts.stream().map(StartReport::jobId), ends.stream().map(EndReport::jobId))
                .distinct().toArray(UUID[]::new);
        return pool.withTransaction(tx -> fencing.check(tx)
                .flatMap(epoch -> lockJobs(tx, jobs)
                        .flatMap(locked -> recordStarts(tx, node, starts, epoch))
                        .flatMap(started -> recordEnds(tx, node, ends, now, epoch).map(ended -> new Reported(started, ended)))));
    }

    private static Uni<List<Boolean>> recordStarts(SqlClient tx, String node, List<StartReport> starts, long epoch) {
        if (starts.isEmpty()) return Uni.createFrom().item(List.of());
        int n = starts.size();
        UUID[] jobs = new UUID[n];
        Integer[] idx = new Integer[n];
        Integer[] attempts = new Integer[n];
        OffsetDateTime[] at = new OffsetDateTime[n];
        for (int i = 0; i < n; i++) {
            StartReport r = starts.get(i);
            jobs[i] = r.jobId();
            idx[i] = r.index();
            attempts[i] = r.attempt();
            at[i] = r.at().atOffset(ZoneOffset.UTC);
        }
        return tx.preparedQuery("""
                WITH u AS (
                  UPDATE task t SET state = 'RUNNING', started_at = p.at, reason = $5, message = 'process started on ' || t.node
                  FROM (SELECT DISTINCT ON (job_id, idx, attempt) * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::timestamptz[])
                        AS p(job_id, idx, attempt, at)) p
                  WHERE t.job_id = p.job_id AND t.idx = p.idx AND t.attempt = p.attempt AND t.node = $6 AND t.state IN %s
                  RETURNING t.job_id, t.idx, t.attempt, t.node, t.message, p.at),
                e AS (
                  INSERT INTO task_event (job_id, idx, attempt, state, node, reason, message, at, epoch)
                  SELECT job_id, idx, attempt, 'RUNNING', node, $5, message, at, $7 FROM u ORDER BY job_id, idx)
                SELECT job_id, idx, attempt FROM u""".formatted(sqlList(TaskStateMachine.sourcesOf(TaskState.RUNNING))))
                .execute(Tuple.from(List.of(jobs, idx, attempts, at, ReasonCode.STARTED.code(), node, epoch)))
                .map(rows -> {
                    java.util.Set<String> done = new java.util.HashSet<>();
                    for (Row r : rows) done.add(key(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt")));
                    List<Boolean> out = new ArrayList<>(n);
                    // A start the report repeats is recorded once: the first of them says so.
                    for (StartReport r : starts) out.add(done.remove(key(r.jobId(), r.index(), r.attempt())));
                    return out;
                });
    }

    private static Uni<List<Ended>> recordEnds(SqlClient tx, String node, List<EndReport> ends, Instant now, long epoch) {
        if (ends.isEmpty()) return Uni.createFrom().item(List.of());
        int n = ends.size();
        UUID[] jobs = new UUID[n];
        Integer[] idx = new Integer[n];
        Integer[] attempts = new Integer[n];
        for (int i = 0; i < n; i++) {
            jobs[i] = ends.get(i).jobId();
            idx[i] = ends.get(i).index();
            attempts[i] = ends.get(i).attempt();
        }
        // The jobs' rows are locked (report): no other writer moves these tasks until this commits.
        return tx.preparedQuery("""
                SELECT t.job_id, t.idx, t.attempt, t.failures, t.losses, j.max_retries, j.initial_backoff_ms, j.max_backoff_ms
                FROM (SELECT DISTINCT job_id, idx, attempt FROM unnest($1::uuid[], $2::int[], $3::int[]) AS p(job_id, idx, attempt)) p
                JOIN task t ON t.job_id = p.job_id AND t.idx = p.idx AND t.attempt = p.attempt
                JOIN job j ON j.id = t.job_id
                WHERE t.node = $4 AND t.state IN """ + ON_NODE)
                .execute(Tuple.of(jobs, idx, attempts, node))
                .flatMap(rows -> {
                    Map<String, Row> current = new HashMap<>();
                    for (Row r : rows) current.put(key(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt")), r);
                    List<Write> writes = new ArrayList<>();
                    List<Write> byEnd = new ArrayList<>(n);
                    for (EndReport e : ends) {
                        // A repeated end finds its task already decided by the first: stale, like any late repeat.
                        Row r = current.remove(key(e.jobId(), e.index(), e.attempt()));
                        if (r == null) {
                            byEnd.add(null);
                            continue;
                        }
                        RetryPolicy retry = new RetryPolicy(r.getInteger("max_retries"),
                                Duration.ofMillis(r.getLong("initial_backoff_ms")), Duration.ofMillis(r.getLong("max_backoff_ms")));
                        TaskLifecycle.Decision d = TaskLifecycle.onAttemptEnded(e.outcome(), r.getInteger("failures"), r.getInteger("losses"), retry, now);
                        Write w = new Write(e.jobId(), e.index(), e.attempt(), d, e.exitCode(), e.usage());
                        writes.add(w);
                        byEnd.add(w);
                    }
                    return writeAll(tx, writes, now, epoch).map(written -> {
                        List<Ended> out = new ArrayList<>(n);
                        for (Write w : byEnd) {
                            out.add(w == null || !written.written().contains(w.key()) ? null
                                    : new Ended(w.decision().state(), written.finishedJobs().contains(w.jobId())));
                        }
                        return out;
                    });
                });
    }

    private static String key(UUID job, int index, int attempt) {
        return job + "/" + index + "/" + attempt;
    }

    /** The tasks a lost node held, each re-queued or ended per {@link TaskLifecycle}. */
    public record Requeued(UUID jobId, int index, int attempt, TaskState state) {
    }

    /**
     * Declares a node lost (if it is still READY or DRAINING) and decides the fate of every task on
     * it, in one transaction. Returns nothing when the node had already been handled.
     */
    public Uni<List<Requeued>> nodeLost(String node, Instant now) {
        return pool.withTransaction(tx -> fencing.check(tx).flatMap(epoch -> tx
                .preparedQuery("UPDATE node SET state = 'LOST' WHERE name = $1 AND state IN "
                        + sqlList(NodeState.MACHINE.sourcesOf(NodeState.LOST)) + " RETURNING name")
                .execute(Tuple.of(node))
                .flatMap(updated -> updated.rowCount() == 0
                        ? Uni.createFrom().item(List.<Requeued>of())
                        : requeueTasksOn(tx, node, now, epoch))));
    }

    private Uni<List<Requeued>> requeueTasksOn(SqlClient tx, String node, Instant now, long epoch) {
        // No task moves onto the node meanwhile: it is no longer READY, and placements share-lock it.
        return tx.preparedQuery("SELECT DISTINCT job_id FROM task WHERE node = $1 AND state IN " + ON_NODE)
                .execute(Tuple.of(node))
                .flatMap(held -> {
                    List<UUID> ids = new ArrayList<>();
                    for (Row r : held) ids.add(r.getUUID("job_id"));
                    return lockJobs(tx, ids.toArray(UUID[]::new));
                })
                .flatMap(locked -> tx.preparedQuery("""
                SELECT t.job_id, t.idx, t.attempt, t.failures, t.losses, j.max_retries, j.initial_backoff_ms, j.max_backoff_ms
                FROM task t JOIN job j ON j.id = t.job_id
                WHERE t.node = $1 AND t.state IN """ + ON_NODE + " FOR UPDATE OF t")
                .execute(Tuple.of(node))
                .flatMap(rows -> {
                    List<Write> writes = new ArrayList<>();
                    for (Row r : rows) {
                        AttemptOutcome outcome = new AttemptOutcome.NodeLost(node);
                        RetryPolicy retry = new RetryPolicy(r.getInteger("max_retries"),
                                Duration.ofMillis(r.getLong("initial_backoff_ms")), Duration.ofMillis(r.getLong("max_backoff_ms")));
                        TaskLifecycle.Decision d = TaskLifecycle.onAttemptEnded(outcome, r.getInteger("failures"), r.getInteger("losses"), retry, now);
                        writes.add(new Write(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt"), d, null, Usage.NONE));
                    }
                    return writeAll(tx, writes, now, epoch).map(written -> writes.stream()
                            .map(w -> new Requeued(w.jobId(), w.index(), w.attempt(), w.decision().state())).toList());
                }));
    }

    /**
     * Locks the rows of {@code jobs} in id order, until the transaction ends (see the class
     * comment). Every transaction that writes task events calls this before its first task write.
     */
    static Uni<Void> lockJobs(SqlClient tx, UUID... jobs) {
        if (jobs.length == 0) return Uni.createFrom().voidItem();
        return tx.preparedQuery("SELECT id FROM job WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
                .execute(Tuple.of(jobs)).replaceWithVoid();
    }

    /** An attempt's end as decided, to be written. */
    private record Write(UUID jobId, int index, int attempt, TaskLifecycle.Decision decision, Integer exitCode, Usage usage) {
        String key() {
            return TaskStore.key(jobId, index, attempt);
        }
    }

    /** Which of the writes took (the others found their attempt moved on), and the jobs this closed. */
    private record Written(java.util.Set<String> written, java.util.Set<UUID> finishedJobs) {
    }

    /**
     * Writes decided attempt ends in one statement, each a compare-and-set on its attempt from the
     * states its target allows, with their task events (the attempt's own end, FAILED or LOST,
     * first when the task goes back to the queue) and the jobs' queued counts; then closes the jobs
     * a terminal write may have finished. The caller holds the jobs' row locks.
     */
    private static Uni<Written> writeAll(SqlClient client, List<Write> writes, Instant now, long epoch) {
        if (writes.isEmpty()) return Uni.createFrom().item(new Written(java.util.Set.of(), java.util.Set.of()));
        int n = writes.size();
        UUID[] jobs = new UUID[n];
        Integer[] idx = new Integer[n];
        Integer[] attempts = new Integer[n];
        String[] states = new String[n];
        String[] sources = new String[n];
        Integer[] failures = new Integer[n];
        Integer[] losses = new Integer[n];
        OffsetDateTime[] notBefore = new OffsetDateTime[n];
        String[] reasons = new String[n];
        String[] messages = new String[n];
        Integer[] exitCodes = new Integer[n];
        Boolean[] requeue = new Boolean[n];
        Long[] cpu = new Long[n];
        Long[] memory = new Long[n];
        String[] attemptEnds = new String[n];
        List<UUID> terminal = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Write w = writes.get(i);
            TaskLifecycle.Decision d = w.decision();
            TaskState to = d.state();
            jobs[i] = w.jobId();
            idx[i] = w.index();
            attempts[i] = w.attempt();
            states[i] = to.name();
            sources[i] = String.join(",", TaskStateMachine.sourcesOf(to).stream().map(Enum::name).toList());
            failures[i] = d.failures();
            losses[i] = d.losses();
            notBefore[i] = d.notBefore() == null ? null : d.notBefore().atOffset(ZoneOffset.UTC);
            reasons[i] = d.reason().code();
            messages[i] = d.message();
            exitCodes[i] = w.exitCode();
            requeue[i] = to == TaskState.QUEUED;
            cpu[i] = w.usage().cpuTimeMillis();
            memory[i] = w.usage().peakMemoryMib();
            attemptEnds[i] = d.attemptEnd() == null ? null : d.attemptEnd().name();
            if (to.terminal()) terminal.add(w.jobId());
        }
        Tuple args = Tuple.from(List.of(jobs, idx, attempts, states, sources, failures, losses, notBefore, reasons, messages,
                exitCodes, requeue, cpu, memory, attemptEnds, now.atOffset(ZoneOffset.UTC), epoch));
        return client.preparedQuery("""
                WITH p AS (
                  SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[], $6::int[], $7::int[], $8::timestamptz[],
                                       $9::text[], $10::text[], $11::int[], $12::bool[], $13::bigint[], $14::bigint[], $15::text[])
                    AS p(job_id, idx, attempt, state, sources, failures, losses, not_before, reason, message, exit_code, requeue,
                         cpu_time_ms, peak_memory_mib, attempt_end)),
                u AS (
                  UPDATE task t SET state = p.state, failures = p.failures, losses = p.losses,
                         not_before = coalesce(p.not_before, t.not_before),
                         queued_at = CASE WHEN p.requeue THEN $16 ELSE t.queued_at END,
                         finished_at = CASE WHEN p.requeue THEN NULL ELSE $16 END,
                         reason = p.reason, message = p.message, exit_code = p.exit_code,
                         cpu_time_ms = p.cpu_time_ms, peak_memory_mib = p.peak_memory_mib
                  FROM p
                  WHERE t.job_id = p.job_id AND t.idx = p.idx AND t.attempt = p.attempt AND t.state = ANY(string_to_array(p.sources, ','))
                  RETURNING t.job_id, t.idx, t.attempt, t.node, t.assigned_at, p.state, p.reason, p.message, p.requeue, p.attempt_end),
                g AS (
                  INSERT INTO attempt_usage (job_id, idx, attempt, tenant, node, pool, cpu_millis, memory_mib, gpus, started_at, ended_at)
                  SELECT u.job_id, u.idx, u.attempt, j.tenant, u.node, coalesce(n.pool, ''), j.cpu_millis, j.memory_mib, j.gpus,
                         u.assigned_at, greatest(u.assigned_at, $16)
                  FROM u JOIN job j ON j.id = u.job_id LEFT JOIN node n ON n.name = u.node
                  WHERE u.assigned_at IS NOT NULL AND u.node IS NOT NULL
                  ON CONFLICT DO NOTHING),
                q AS (
                  UPDATE job j SET queued = queued + c.n
                  FROM (SELECT job_id, count(*)::int AS n FROM u WHERE requeue GROUP BY job_id) c
                  WHERE j.id = c.job_id),
                e AS (
                  INSERT INTO task_event (job_id, idx, attempt, state, node, reason, message, at, epoch)
                  SELECT u.job_id, u.idx, u.attempt, s.state, u.node, u.reason, u.message, $16, $17
                  FROM u, LATERAL (VALUES (1, u.attempt_end), (2, u.state)) AS s(ord, state)
                  WHERE s.state IS NOT NULL
                  ORDER BY u.job_id, u.idx, s.ord)
                SELECT job_id, idx, attempt FROM u""")
                .execute(args)
                .flatMap(rows -> {
                    java.util.Set<String> written = new java.util.HashSet<>();
                    for (Row r : rows) written.add(key(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt")));
                    if (terminal.isEmpty() || written.isEmpty()) return Uni.createFrom().item(new Written(written, java.util.Set.of()));
                    return finishJobs(client, terminal.stream().distinct().toArray(UUID[]::new)).map(finished -> new Written(written, finished));
                });
    }

    /**
     * Closes every job whose tasks have all finished; returns how many it closed. The scheduling
     * cycle calls it, for jobs a write could not close (their rows were locked by another writer).
     */
    public Uni<Integer> finishDoneJobs() {
        return pool.withTransaction(tx -> fencing.check(tx).flatMap(epoch -> finishJobs(tx, null))).map(java.util.Set::size);
    }

    /**
     * Reads the task counts of unfinished jobs with no unfinished task ({@code only} or all),
     * lets {@link JobState#of} name each one's final state, and writes it as a compare-and-set
     * from the states the job table allows.
     */
    private static Uni<java.util.Set<UUID>> finishJobs(SqlClient client, UUID[] only) {
        return client.preparedQuery("""
                SELECT t.job_id, t.state, count(*)::int AS n FROM task t
                WHERE t.job_id IN (
                  SELECT j.id FROM job j
                  WHERE j.finished_at IS NULL AND ($1::uuid[] IS NULL OR j.id = ANY($1))
                    AND NOT EXISTS (SELECT 1 FROM task u WHERE u.job_id = j.id AND u.state IN %s))
                GROUP BY t.job_id, t.state""".formatted(sqlList(TaskState.UNFINISHED)))
                .execute(Tuple.of(only))
                .flatMap(rows -> {
                    Map<UUID, Map<TaskState, Integer>> counts = new HashMap<>();
                    for (Row r : rows) {
                        counts.computeIfAbsent(r.getUUID("job_id"), k -> new EnumMap<>(TaskState.class))
                                .put(TaskState.valueOf(r.getString("state")), r.getInteger("n"));
                    }
                    if (counts.isEmpty()) return Uni.createFrom().item(java.util.Set.<UUID>of());
                    List<UUID> ids = new ArrayList<>();
                    List<String> states = new ArrayList<>();
                    List<String> sources = new ArrayList<>();
                    counts.forEach((id, c) -> {
                        JobState state = JobState.of(c);
                        ids.add(id);
                        states.add(state.name());
                        sources.add(String.join(",", JobState.MACHINE.sourcesOf(state).stream().map(Enum::name).toList()));
                    });
                    // A job another transaction holds is left for the next sweep (locks in id order, never waiting).
                    return client.preparedQuery("""
                            UPDATE job j SET state = v.state, finished_at = now()
                            FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, state, sources)
                            WHERE j.id = v.id AND j.finished_at IS NULL AND j.state = ANY(string_to_array(v.sources, ','))
                              AND j.id IN (SELECT id FROM job WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED)
                            RETURNING j.id""")
                            .execute(Tuple.of(ids.toArray(UUID[]::new), states.toArray(String[]::new), sources.toArray(String[]::new)))
                            .map(closed -> {
                                java.util.Set<UUID> out = new java.util.HashSet<>();
                                for (Row r : closed) out.add(r.getUUID("id"));
                                return out;
                            });
                });
    }

    /** A queued task the scheduler may place now. */
    public record Queued(UUID jobId, int index, int attempt, long queuedAtMillis) {
    }

    /** A job with queued tasks (some may still be in retry backoff). */
    public record QueuedJob(UUID jobId, String tenant, int priority, long createdAtMillis, int queued) {
    }

    /** The jobs a cycle looks at, and the number of queued tasks of all jobs. */
    /**
     * @param crowded the tenants with more jobs with queued tasks than were read, with how many
     *                they have
     */
    public record QueueView(List<QueuedJob> jobs, long depth, Map<String, Long> crowded) {
    }

    /**
     * Each tenant's first {@code perTenant} jobs with queued tasks (by priority, then age) and
     * the total of queued tasks, from the jobs' maintained counts: never reads a queued task, and
     * ships at most {@code perTenant} rows per tenant however many jobs wait. Blocking: call off
     * the event loop.
     */
    public QueueView queuedJobs(int perTenant, Duration timeout) {
        List<QueuedJob> out = new ArrayList<>();
        Map<String, Long> crowded = new HashMap<>();
        long depth = 0;
        for (Row r : pool.preparedQuery("""
                SELECT id, tenant, priority, created_ms, queued, depth, of_tenant FROM (
                  SELECT id, tenant, priority, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms, queued,
                         row_number() OVER (PARTITION BY tenant ORDER BY priority DESC, created_at, id) AS turn,
                         count(*) OVER (PARTITION BY tenant) AS of_tenant,
                         sum(queued) OVER () AS depth
                  FROM job WHERE queued > 0) q
                WHERE turn <= $1""")
                .execute(Tuple.of(perTenant)).await().atMost(timeout)) {
            out.add(new QueuedJob(r.getUUID(0), r.getString(1), r.getInteger(2), r.getLong(3), r.getInteger(4)));
            depth = r.getLong(5);
            if (r.getLong(6) > perTenant) crowded.put(r.getString(1), r.getLong(6));
        }
        return new QueueView(out, depth, Map.copyOf(crowded));
    }

    /** The number of queued tasks of all jobs (their maintained counts). Blocking: call off the event loop. */
    public long queueDepth(Duration timeout) {
        return pool.query("SELECT coalesce(sum(queued), 0)::bigint AS n FROM job WHERE queued > 0").execute().await().atMost(timeout)
                .iterator().next().getLong(0);
    }

    /**
     * Up to {@code take.get(job)} queued tasks of each job whose backoff has passed, oldest first
     * (each job's read walks its own index range). Blocking: call off the event loop.
     */
    public Map<UUID, List<Queued>> queuedTasks(Map<UUID, Integer> take, Duration timeout) {
        Map<UUID, List<Queued>> out = new HashMap<>();
        if (take.isEmpty()) return out;
        UUID[] jobs = take.keySet().toArray(UUID[]::new);
        Integer[] limits = new Integer[jobs.length];
        for (int i = 0; i < jobs.length; i++) limits[i] = take.get(jobs[i]);
        for (Row r : pool.preparedQuery("""
                SELECT t.job_id, t.idx, t.attempt, (extract(epoch FROM t.queued_at) * 1000)::bigint AS queued_ms
                FROM unnest($1::uuid[], $2::int[]) AS w(job_id, n)
                CROSS JOIN LATERAL (
                  SELECT job_id, idx, attempt, queued_at FROM task
                  WHERE job_id = w.job_id AND state = 'QUEUED' AND not_before <= now()
                  ORDER BY queued_at, idx LIMIT w.n) t""")
                .execute(Tuple.of(jobs, limits)).await().atMost(timeout)) {
            UUID job = r.getUUID(0);
            out.computeIfAbsent(job, k -> new ArrayList<>()).add(new Queued(job, r.getInteger(1), r.getInteger(2), r.getLong(3)));
        }
        return out;
    }

    /**
     * A job's tasks on nodes (assigned or running) of one pool, or of one node of it, now.
     *
     * @param node the node, or null when counted per pool
     */
    public record OnNodes(UUID jobId, String tenant, String pool, String node, long tasks) {
    }

    /**
     * Tasks on nodes (assigned or running) by job and pool, for usage that needs each job's
     * resources; with {@code byNode}, by job and node (what a node's price is shared by). Blocking.
     */
    public List<OnNodes> onNodesByJob(boolean byNode, Duration timeout) {
        List<OnNodes> out = new ArrayList<>();
        String node = byNode ? "t.node" : "NULL::text";
        for (Row r : pool.query("SELECT t.job_id, j.tenant, n.pool, " + node + " AS node, count(*) AS n FROM task t JOIN job j ON j.id = t.job_id"
                + " JOIN node n ON n.name = t.node WHERE t.state IN " + ON_NODE + " GROUP BY t.job_id, j.tenant, n.pool" + (byNode ? ", t.node" : ""))
                .execute().await().atMost(timeout)) {
            out.add(new OnNodes(r.getUUID("job_id"), r.getString("tenant"), r.getString("pool"), r.getString("node"), r.getLong("n")));
        }
        return out;
    }

    /** A task on a node now: what quota reclaim may choose from. */
    public record Running(UUID jobId, int index, int attempt, String node, String pool, String tenant, int priority, Instant assignedAt) {
    }

    /** Every task on a node (assigned or running) of these tenants. Blocking; read only when quota must be reclaimed. */
    public List<Running> runningOf(java.util.Collection<String> tenants, Duration timeout) {
        List<Running> out = new ArrayList<>();
        for (Row r : pool.preparedQuery("SELECT t.job_id, t.idx, t.attempt, t.node, n.pool, j.tenant, j.priority, t.assigned_at FROM task t"
                + " JOIN job j ON j.id = t.job_id JOIN node n ON n.name = t.node WHERE t.state IN " + ON_NODE + " AND j.tenant = ANY($1)")
                .execute(Tuple.of(tenants.toArray(String[]::new))).await().atMost(timeout)) {
            java.time.OffsetDateTime at = r.getOffsetDateTime("assigned_at");
            out.add(new Running(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt"), r.getString("node"), r.getString("pool"),
                    r.getString("tenant"), r.getInteger("priority"), at == null ? Instant.EPOCH : at.toInstant()));
        }
        return out;
    }

    public Map<String, Long> onNodesByTenant(Duration timeout) {
        Map<String, Long> out = new HashMap<>();
        for (Row r : pool.query("SELECT j.tenant, count(*) AS n FROM task t JOIN job j ON j.id = t.job_id WHERE t.state IN " + ON_NODE
                + " GROUP BY j.tenant").execute().await().atMost(timeout)) {
            out.put(r.getString("tenant"), r.getLong("n"));
        }
        return out;
    }

    /**
     * How many unfinished tasks are in each state: QUEUED from the jobs' maintained counts, the
     * others from the (small) set of tasks on nodes, so a deep queue is never counted row by row.
     */
    public Uni<Map<TaskState, Long>> unfinishedCounts() {
        return pool.query("""
                SELECT 'QUEUED' AS state, coalesce(sum(queued), 0)::bigint AS n FROM job WHERE queued > 0
                UNION ALL
                SELECT state, count(*) AS n FROM task WHERE state IN """ + ON_NODE + " GROUP BY state")
                .execute().map(rows -> {
                    Map<TaskState, Long> out = new EnumMap<>(TaskState.class);
                    for (Row r : rows) out.put(TaskState.valueOf(r.getString("state")), r.getLong("n"));
                    return out;
                });
    }

    /**
     * Where an attempt ran, for its logs: {@code attempt} 0 means the task's current one.
     *
     * @return null when the task does not exist; otherwise the task's current attempt and, if
     *         the asked-for attempt was ever placed, its number and node
     */
    public Uni<AttemptPlace> attemptPlace(UUID jobId, int index, int attempt) {
        return pool.preparedQuery("""
                SELECT t.attempt AS current, e.attempt, e.node FROM task t
                LEFT JOIN LATERAL (
                  SELECT attempt, node FROM task_event
                  WHERE job_id = t.job_id AND idx = t.idx AND state = 'ASSIGNED'
                    AND attempt = CASE WHEN $3 = 0 THEN t.attempt ELSE $3 END
                  ORDER BY seq DESC LIMIT 1) e ON true
                WHERE t.job_id = $1 AND t.idx = $2""")
                .execute(Tuple.of(jobId, index, attempt))
                .map(rows -> {
                    if (rows.size() == 0) return null;
                    Row r = rows.iterator().next();
                    return new AttemptPlace(r.getInteger("current"), r.getInteger("attempt"), r.getString("node"));
                });
    }

    /** @param attempt null with {@code node} when the attempt was never placed */
    public record AttemptPlace(int currentAttempt, Integer attempt, String node) {
    }
}
