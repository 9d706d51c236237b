package dev.spillway.broker.store;

import static dev.spillway.core.lifecycle.StateMachine.sqlList;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.core.filter.Condition;
import dev.spillway.core.filter.FilterSchema;
import dev.spillway.core.lifecycle.JobState;
import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.core.task.TaskState;
import dev.spillway.core.task.TaskStateMachine;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Jobs and their task arrays in PostgreSQL. Writes are single statements (data-modifying CTEs),
 * so each is atomic without an explicit transaction and costs one round trip.
 */
@ApplicationScoped
public class JobStore {

    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(JobStore.class);
    /**
     * Tasks inserted after which the task table's planner statistics are refreshed at once (or as
     * many as the table held at the last refresh, when that is more: a refresh each time the table
     * doubles). A deep queue submitted in seconds would otherwise leave the planner believing the
     * table small until autovacuum's next round (up to a minute): meanwhile it scans every task for
     * queries the indexes answer from a few rows, and each scheduling cycle pays for it.
     */
    static final long ANALYZE_AFTER_TASKS = 100_000;

    private final Pool pool;
    private final java.util.concurrent.atomic.AtomicLong insertedSinceAnalyze = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicBoolean analyzing = new java.util.concurrent.atomic.AtomicBoolean();
    /** Rows the task table held at the last refresh (as the statistics estimate them). */
    private volatile long analyzedRows;

    public JobStore(Pool pool) {
        this.pool = pool;
    }

    private void inserted(long tasks) {
        if (insertedSinceAnalyze.addAndGet(tasks) < Math.max(ANALYZE_AFTER_TASKS, analyzedRows) || !analyzing.compareAndSet(false, true)) return;
        insertedSinceAnalyze.set(0);
        pool.query("ANALYZE task").execute()
                .flatMap(done -> pool.query("SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = 'task'::regclass").execute())
                .subscribe().with(rows -> {
                    analyzedRows = rows.iterator().next().getLong(0);
                    analyzing.set(false);
                }, e -> {
                    analyzing.set(false);
                    LOG.debugf("could not refresh the task table's statistics: %s", e.getMessage());
                });
    }

    /**
     * A validated job to store.
     *
     * @param submittedBy the caller's subject, kept on the job and in its {@code job.submit} audit event
     * @param remote      the caller's address for the audit event (null when unknown)
     * @param quote       what the job was quoted at admission (null: stored without one)
     */
    public record NewJob(UUID id, JobSpec spec, String submittedBy, String remote, SubmitRequest request, List<Reservation> reservations,
                         Quote quote) {

        public NewJob {
            reservations = List.copyOf(reservations);
        }

        public NewJob(UUID id, JobSpec spec, String submittedBy, String remote, SubmitRequest request) {
            this(id, spec, submittedBy, remote, request, List.of(), null);
        }

        public NewJob(UUID id, JobSpec spec, String submittedBy, String remote) {
            this(id, spec, submittedBy, remote, null);
        }
    }

    /**
     * What a job reserves of a budget's period: its not-to-exceed cost, in millionths of a dollar. The statement that stores
     * the job takes it only if a hard budget's period has that much left ({@code limit - spent - reserved}), or stores nothing.
     */
    public record Reservation(String budget, Instant periodStart, long amountMicroUsd) {
    }

    /**
     * What a job was quoted when it was admitted, in millionths of a dollar: its expected cost (null: it gave no runtime to
     * expect) and its not-to-exceed cost, or why it has none ({@code unbounded}). Exactly one of the last two is set.
     */
    public record Quote(Long expectedMicroUsd, Long notToExceedMicroUsd, String unbounded) {

        public Quote {
            if ((notToExceedMicroUsd == null) == (unbounded == null)) {
                throw new IllegalArgumentException("a quote has a bound or says why it has none: " + notToExceedMicroUsd + ", " + unbounded);
            }
        }
    }

    /** SQLSTATE of a statement that stored nothing because a hard budget had no room (see V13__budgets.sql). */
    public static final String BUDGET_REFUSED = "SPWB1";

    /** A submission's request id and a digest of the spec it came with (see {@link #findRequest}). */
    public record SubmitRequest(String id, byte[] specSha256) {
    }

    /** The job a request id created, and the digest of the spec it was created from. */
    public record RequestedJob(UUID jobId, byte[] specSha256) {
    }

    /**
     * The job {@code tenant}'s request {@code requestId} created within the last 24 hours, or
     * null; an older record of the id is deleted, so the id may be used again.
     */
    public Uni<RequestedJob> findRequest(String tenant, String requestId) {
        return pool.preparedQuery("""
                WITH expired AS (
                  DELETE FROM submit_request WHERE tenant = $1 AND request_id = $2 AND created_at < now() - interval '24 hours')
                SELECT job_id, spec_sha256 FROM submit_request
                WHERE tenant = $1 AND request_id = $2 AND created_at >= now() - interval '24 hours'""")
                .execute(Tuple.of(tenant, requestId))
                .map(rows -> rows.size() == 0 ? null
                        : new RequestedJob(rows.iterator().next().getUUID("job_id"), rows.iterator().next().getBuffer("spec_sha256").getBytes()));
    }

    /**
     * Stores several jobs and all their tasks as QUEUED in one statement: all or none. Used to
     * commit concurrent submissions together (one round trip and one WAL flush for the lot).
     *
     * @return the jobs' {@code created_at}, the same for all of them
     */
    public Uni<OffsetDateTime> insertAll(List<NewJob> jobs) {
        int n = jobs.size();
        UUID[] ids = new UUID[n];
        String[] names = new String[n];
        String[] tenants = new String[n];
        Integer[] priorities = new Integer[n];
        Integer[] counts = new Integer[n];
        Long[] cpus = new Long[n];
        Long[] mems = new Long[n];
        Integer[] gpus = new Integer[n];
        String[] selectors = new String[n];
        String[] pools = new String[n];
        String[] labels = new String[n];
        Integer[] retries = new Integer[n];
        Long[] initialBackoffs = new Long[n];
        Long[] maxBackoffs = new Long[n];
        io.vertx.core.buffer.Buffer[] specs = new io.vertx.core.buffer.Buffer[n];
        String[] submitters = new String[n];
        String[] remotes = new String[n];
        String[] requestIds = new String[n];
        io.vertx.core.buffer.Buffer[] hashes = new io.vertx.core.buffer.Buffer[n];
        Long[] quotedExpected = new Long[n];
        Long[] quotedBound = new Long[n];
        String[] quotedUnbounded = new String[n];
        List<UUID> reservedJobs = new ArrayList<>();
        List<String> reservedBudgets = new ArrayList<>();
        List<OffsetDateTime> reservedPeriods = new ArrayList<>();
        List<Long> reservedAmounts = new ArrayList<>();
        java.util.Set<String> reservedGroups = new java.util.HashSet<>();
        for (NewJob job : jobs) {
            for (Reservation r : job.reservations()) {
                reservedJobs.add(job.id());
                reservedBudgets.add(r.budget());
                reservedPeriods.add(r.periodStart().atOffset(java.time.ZoneOffset.UTC));
                reservedAmounts.add(r.amountMicroUsd());
                reservedGroups.add(r.budget() + "@" + r.periodStart());
            }
        }
        List<UUID> labelJobs = new ArrayList<>();
        List<String> labelKeys = new ArrayList<>();
        List<String> labelValues = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            JobSpec spec = jobs.get(i).spec();
            var task = spec.getTask();
            var retry = spec.getRetry();
            ids[i] = jobs.get(i).id();
            names[i] = spec.getName();
            tenants[i] = spec.getTenant();
            priorities[i] = spec.getPriority();
            counts[i] = spec.getTaskCount();
            cpus[i] = task.getResources().getCpuMillis();
            mems[i] = task.getResources().getMemoryMib();
            gpus[i] = task.getResources().getGpus();
            selectors[i] = new JsonObject(Map.copyOf(task.getNodeSelectorMap())).encode();
            pools[i] = new io.vertx.core.json.JsonArray(List.copyOf(task.getPoolsList())).encode();
            labels[i] = new JsonObject(Map.copyOf(spec.getLabelsMap())).encode();
            retries[i] = retry.getMaxRetries();
            initialBackoffs[i] = millis(retry.getInitialBackoff());
            maxBackoffs[i] = millis(retry.getMaxBackoff());
            specs[i] = io.vertx.core.buffer.Buffer.buffer(spec.toByteArray());
            submitters[i] = jobs.get(i).submittedBy();
            remotes[i] = jobs.get(i).remote();
            SubmitRequest request = jobs.get(i).request();
            requestIds[i] = request == null ? null : request.id();
            hashes[i] = io.vertx.core.buffer.Buffer.buffer(request == null ? new byte[0] : request.specSha256());
            Quote quote = jobs.get(i).quote();
            if (quote != null) {
                quotedExpected[i] = quote.expectedMicroUsd();
                quotedBound[i] = quote.notToExceedMicroUsd();
                quotedUnbounded[i] = quote.unbounded();
            }
            for (Map.Entry<String, String> label : spec.getLabelsMap().entrySet()) {
                labelJobs.add(ids[i]);
                labelKeys.add(label.getKey());
                labelValues.add(label.getValue());
            }
        }
        Tuple args = Tuple.tuple()
                .addArrayOfUUID(ids).addArrayOfString(names).addArrayOfString(tenants).addArrayOfInteger(priorities)
                .addArrayOfInteger(counts).addArrayOfLong(cpus).addArrayOfLong(mems).addArrayOfInteger(gpus)
                .addArrayOfString(selectors).addArrayOfString(pools).addArrayOfString(labels).addArrayOfInteger(retries)
                .addArrayOfLong(initialBackoffs).addArrayOfLong(maxBackoffs).addValue(specs)
                .addArrayOfUUID(labelJobs.toArray(UUID[]::new)).addArrayOfString(labelKeys.toArray(String[]::new))
                .addArrayOfString(labelValues.toArray(String[]::new))
                .addArrayOfString(submitters).addArrayOfString(remotes)
                .addArrayOfString(requestIds).addValue(hashes)
                .addArrayOfUUID(reservedJobs.toArray(UUID[]::new)).addArrayOfString(reservedBudgets.toArray(String[]::new))
                .addArrayOfOffsetDateTime(reservedPeriods.toArray(OffsetDateTime[]::new)).addArrayOfLong(reservedAmounts.toArray(Long[]::new))
                .addLong((long) reservedGroups.size())
                .addArrayOfLong(quotedExpected).addArrayOfLong(quotedBound).addArrayOfString(quotedUnbounded);
        return pool.preparedQuery("""
                WITH j AS (
                  INSERT INTO job (id, name, tenant, priority, task_count, queued, state, cpu_millis, memory_mib, gpus,
                                   node_selector, pools, labels, max_retries, initial_backoff_ms, max_backoff_ms, spec, submitted_by,
                                   quote_expected_micro_usd, quote_not_to_exceed_micro_usd, quote_unbounded)
                  SELECT id, name, tenant, priority, n, n, 'QUEUED', cpu, mem, gpu, selector::jsonb,
                         ARRAY(SELECT jsonb_array_elements_text(pools::jsonb)), labels::jsonb, retries, ib, mb, spec, submitter,
                         q_expected, q_bound, q_unbounded
                  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[], $7::bigint[], $8::int[],
                              $9::text[], $10::text[], $11::text[], $12::int[], $13::bigint[], $14::bigint[], $15::bytea[], $19::text[],
                              $28::bigint[], $29::bigint[], $30::text[])
                       AS x(id, name, tenant, priority, n, cpu, mem, gpu, selector, pools, labels, retries, ib, mb, spec, submitter,
                            q_expected, q_bound, q_unbounded)),
                a AS (
                  INSERT INTO audit_event (actor, tenant, action, target, detail, remote)
                  SELECT submitter, tenant, 'job.submit', id::text, n || ' tasks', remote
                  FROM unnest($1::uuid[], $3::text[], $5::int[], $19::text[], $20::text[]) AS x(id, tenant, n, submitter, remote)),
                l AS (
                  INSERT INTO job_label (job_id, key, value)
                  SELECT * FROM unnest($16::uuid[], $17::text[], $18::text[])),
                r AS (
                  INSERT INTO submit_request (tenant, request_id, job_id, spec_sha256)
                  SELECT tenant, request_id, id, sha FROM unnest($3::text[], $21::text[], $1::uuid[], $22::bytea[]) AS x(tenant, request_id, id, sha)
                  WHERE request_id IS NOT NULL),
                lk AS (
                  -- The periods' rows locked in one order (budget, start) by every writer: concurrent batches wait, never deadlock.
                  SELECT p.budget, p.period_start FROM budget_period p
                  WHERE (p.budget, p.period_start) IN (SELECT * FROM unnest($24::text[], $25::timestamptz[]))
                  ORDER BY p.budget, p.period_start
                  FOR NO KEY UPDATE),
                b AS (
                  UPDATE budget_period p SET reserved_micro_usd = p.reserved_micro_usd + x.amount
                  FROM (SELECT budget, period_start, sum(amount) AS amount
                        FROM unnest($24::text[], $25::timestamptz[], $26::bigint[]) AS r(budget, period_start, amount) GROUP BY 1, 2) x
                  JOIN lk ON lk.budget = x.budget AND lk.period_start = x.period_start
                  WHERE p.budget = x.budget AND p.period_start = x.period_start
                    AND (NOT p.hard OR p.limit_micro_usd - p.spent_micro_usd - p.reserved_micro_usd >= x.amount)
                  RETURNING 1),
                br AS (
                  INSERT INTO budget_reservation (job_id, budget, period_start, amount_micro_usd, remaining_micro_usd)
                  SELECT job_id, budget, period_start, amount, amount
                  FROM unnest($23::uuid[], $24::text[], $25::timestamptz[], $26::bigint[]) AS r(job_id, budget, period_start, amount)),
                guard AS (
                  SELECT spillway_budget_guard((SELECT count(*) FROM b), $27::bigint) AS ok),
                t AS (
                  INSERT INTO task (job_id, idx, state)
                  SELECT x.id, g, 'QUEUED' FROM unnest($1::uuid[], $5::int[]) AS x(id, n), generate_series(0, x.n - 1) AS g, guard
                  WHERE guard.ok)
                -- The jobs' created_at: the transaction's time, which is now() in every part of the statement.
                SELECT now() AS created_at
                """).execute(args).invoke(() -> inserted(java.util.Arrays.stream(counts).mapToLong(Integer::longValue).sum()))
                .map(rows -> rows.iterator().next().getOffsetDateTime("created_at"));
    }

    private static long millis(com.google.protobuf.Duration d) {
        return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
    }

    /** A job as stored; {@code quote} is null for a job admitted without one. */
    public record JobRow(UUID id, JobState state, OffsetDateTime createdAt, OffsetDateTime finishedAt, JobSpec spec, Quote quote) {
    }

    /** The columns {@link #jobRow} reads. */
    private static final String JOB_ROW = "id, state, created_at, finished_at, spec, quote_expected_micro_usd, quote_not_to_exceed_micro_usd, quote_unbounded";

    public record TaskRow(int index, TaskState state, int attempt, String node, Integer exitCode, OffsetDateTime assignedAt, OffsetDateTime startedAt,
                          OffsetDateTime finishedAt, String reason, String message, int failures, Long cpuTimeMillis,
                          Long peakMemoryMib) {
    }

    public Uni<JobRow> find(UUID id) {
        return pool.preparedQuery("SELECT " + JOB_ROW + " FROM job WHERE id = $1")
                .execute(Tuple.of(id))
                .map(rows -> rows.size() == 0 ? null : jobRow(rows.iterator().next()));
    }

    /**
     * Up to {@code limit} tasks of a job with an index above {@code afterIndex}, by index.
     *
     * @param states only tasks in these states (any when empty)
     */
    /** What ListTasks can be filtered by (AIP-160), and the columns {@link #tasks} reads them from. */
    public static final FilterSchema TASK_FILTER = FilterSchema.builder()
            .enumeration("state", "TASK_STATE_", java.util.Arrays.stream(TaskState.values()).map(Enum::name).toList())
            .text("node")
            .integer("attempt")
            .integer("failures")
            .integer("exit_code")
            .time("start_time")
            .time("finish_time")
            .build();
    private static final SqlFilter.Columns TASK_COLUMNS = new SqlFilter.Columns(Map.of("state", "state", "node", "node", "attempt", "attempt::bigint",
            "failures", "failures::bigint", "exit_code", "exit_code::bigint", "start_time", "started_at", "finish_time", "finished_at"), Map.of());

    /** A job's tasks by index, after {@code afterIndex}, that {@code filter} (of {@link #TASK_FILTER}) holds for. */
    public Uni<List<TaskRow>> tasks(UUID jobId, int afterIndex, int limit, Condition filter) {
        Tuple args = Tuple.of(jobId, afterIndex, limit);
        String where = SqlFilter.render(filter, TASK_COLUMNS, args);
        return pool.preparedQuery("""
                SELECT idx, state, attempt, node, exit_code, assigned_at, started_at, finished_at, reason, message, failures,
                       cpu_time_ms, peak_memory_mib
                FROM task WHERE job_id = $1 AND idx > $2 AND\s""" + where + """

                ORDER BY idx LIMIT $3""")
                .execute(args)
                .map(rows -> {
                    List<TaskRow> out = new ArrayList<>(rows.size());
                    for (Row r : rows) {
                        out.add(new TaskRow(r.getInteger("idx"), TaskState.valueOf(r.getString("state")), r.getInteger("attempt"),
                                r.getString("node"), r.getInteger("exit_code"), r.getOffsetDateTime("assigned_at"), r.getOffsetDateTime("started_at"),
                                r.getOffsetDateTime("finished_at"), r.getString("reason"), r.getString("message"),
                                r.getInteger("failures"), r.getLong("cpu_time_ms"), r.getLong("peak_memory_mib")));
                    }
                    return out;
                });
    }

    /** Where a watch starts: the job, its task counts and its last event, all read in one snapshot. */
    public record WatchStart(JobRow job, Map<String, Integer> taskCounts, long lastEventSeq) {
    }

    /** Null when the job does not exist. */
    public Uni<WatchStart> watchStart(UUID jobId) {
        return pool.preparedQuery("""
                SELECT j.quote_expected_micro_usd, j.quote_not_to_exceed_micro_usd, j.quote_unbounded,
                       j.id, j.state, j.created_at, j.finished_at, j.spec,
                       (SELECT coalesce(max(seq), 0) FROM task_event WHERE job_id = j.id) AS last_seq,
                       (SELECT coalesce(jsonb_object_agg(state, n), '{}') FROM
                          (SELECT state, count(*)::int AS n FROM task WHERE job_id = j.id GROUP BY state) c) AS counts
                FROM job j WHERE j.id = $1""")
                .execute(Tuple.of(jobId))
                .map(rows -> {
                    if (rows.size() == 0) return null;
                    Row r = rows.iterator().next();
                    Map<String, Integer> counts = new java.util.TreeMap<>();
                    JsonObject json = (JsonObject) r.getValue("counts");
                    for (String state : json.fieldNames()) counts.put(state, json.getInteger(state));
                    return new WatchStart(jobRow(r), counts, r.getLong("last_seq"));
                });
    }

    /** Number of tasks per state, for each of the given jobs. */
    public Uni<Map<UUID, Map<String, Integer>>> taskCounts(List<UUID> jobIds) {
        return pool.preparedQuery("SELECT job_id, state, count(*)::int AS n FROM task WHERE job_id = ANY($1) GROUP BY job_id, state")
                .execute(Tuple.of(jobIds.toArray(UUID[]::new)))
                .map(rows -> {
                    Map<UUID, Map<String, Integer>> out = new java.util.HashMap<>();
                    for (Row r : rows) {
                        out.computeIfAbsent(r.getUUID("job_id"), k -> new java.util.TreeMap<>()).put(r.getString("state"), r.getInteger("n"));
                    }
                    return out;
                });
    }

    /** A page of jobs, newest first, after the (created_at, id) key of the previous page. */
    /** @param tenants only these tenants' jobs; null: every tenant's */
    /** What ListJobs can be filtered by (AIP-160), and the columns {@link #list} reads them from. */
    public static final FilterSchema JOB_FILTER = FilterSchema.builder()
            .enumeration("state", "JOB_STATE_", java.util.Arrays.stream(JobState.values()).map(Enum::name).toList())
            .text("tenant")
            .map("labels")
            .time("create_time")
            .time("finish_time")
            .build();
    private static final SqlFilter.Columns JOB_COLUMNS = new SqlFilter.Columns(
            Map.of("state", "j.state", "tenant", "j.tenant", "create_time", "j.created_at", "finish_time", "j.finished_at"),
            Map.of("labels", (key, value) -> "EXISTS (SELECT 1 FROM job_label l WHERE l.job_id = j.id AND l.key = " + key
                    + (value == null ? "" : " AND l.value = " + value) + ")"));

    /**
     * Jobs newest first, after the cursor (when given), that {@code filter} (of {@link #JOB_FILTER}) holds for.
     *
     * @param tenants only these tenants' jobs; null: any tenant's
     */
    public Uni<List<JobRow>> list(int limit, OffsetDateTime afterCreated, UUID afterId, Condition filter, String[] tenants) {
        Tuple args = Tuple.tuple().addInteger(limit).addOffsetDateTime(afterCreated).addUUID(afterId).addArrayOfString(tenants);
        String where = SqlFilter.render(filter, JOB_COLUMNS, args);
        return pool.preparedQuery("""
                SELECT\s""" + JOB_ROW + """
                 FROM job j
                WHERE ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
                  AND ($4::text[] IS NULL OR tenant = ANY($4))
                  AND\s""" + where + """

                ORDER BY created_at DESC, id DESC
                LIMIT $1""")
                .execute(args)
                .map(rows -> {
                    List<JobRow> out = new ArrayList<>(rows.size());
                    for (Row r : rows) out.add(jobRow(r));
                    return out;
                });
    }

    public record CancelledTask(int index, int attempt, String node, TaskState previousState) {
    }

    /** What a cancellation did: how many tasks it cancelled, and those of them that were on a node (to be killed there). */
    public record Cancelled(int count, List<CancelledTask> onNodes) {
    }

    /**
     * Cancels every unfinished task of a job and closes the job, in one transaction. The job's
     * row is locked first, as every writer of its tasks does (see TaskStore), so its tasks need no
     * row locks of their own and cannot change between the two statements: the first reads the
     * tasks on a node (a few), the second cancels all of them without a join, so that a job of
     * 100,000 tasks is one pass over its index whatever the planner believes of it.
     */
    public Uni<Cancelled> cancel(UUID jobId) {
        return pool.withTransaction(tx -> TaskStore.lockJobs(tx, jobId)
                .flatMap(locked -> tx.preparedQuery("SELECT idx, attempt, node, state FROM task WHERE job_id = $1 AND state IN "
                        + sqlList(TaskState.ON_NODE)).execute(Tuple.of(jobId)))
                .flatMap(onNode -> tx.preparedQuery("""
                        WITH u AS (
                          UPDATE task SET state = 'CANCELLED', finished_at = now(), reason = $2, message = 'job cancelled'
                          WHERE job_id = $1 AND state IN %s
                          RETURNING idx, attempt, node),
                        e AS (
                          INSERT INTO task_event (job_id, idx, attempt, state, node, reason, message)
                          SELECT $1, idx, attempt, 'CANCELLED', node, $2, 'job cancelled' FROM u),
                        g AS (
                          INSERT INTO attempt_usage (job_id, idx, attempt, tenant, node, pool, cpu_millis, memory_mib, gpus, started_at, ended_at)
                          SELECT t.job_id, t.idx, t.attempt, j.tenant, t.node, coalesce(n.pool, ''), j.cpu_millis, j.memory_mib, j.gpus,
                                 t.assigned_at, greatest(t.assigned_at, now())
                          FROM task t JOIN job j ON j.id = t.job_id LEFT JOIN node n ON n.name = t.node
                          WHERE t.job_id = $1 AND t.state IN %3$s AND t.assigned_at IS NOT NULL AND t.node IS NOT NULL
                          ON CONFLICT DO NOTHING),
                        j AS (
                          UPDATE job SET queued = 0,
                                         state = CASE WHEN finished_at IS NULL AND state IN %2$s THEN 'CANCELLED' ELSE state END,
                                         finished_at = CASE WHEN finished_at IS NULL AND state IN %2$s THEN now() ELSE finished_at END
                          WHERE id = $1)
                        SELECT count(*) AS n FROM u""".formatted(sqlList(TaskStateMachine.sourcesOf(TaskState.CANCELLED)),
                                sqlList(JobState.MACHINE.sourcesOf(JobState.CANCELLED)), sqlList(TaskState.ON_NODE)))
                        .execute(Tuple.of(jobId, ReasonCode.CANCELLED.code()))
                        .map(count -> {
                            List<CancelledTask> out = new ArrayList<>(onNode.size());
                            for (Row r : onNode) { // every state on a node may be cancelled
                                out.add(new CancelledTask(r.getInteger("idx"), r.getInteger("attempt"), r.getString("node"),
                                        TaskState.valueOf(r.getString("state"))));
                            }
                            return new Cancelled(count.iterator().next().getLong("n").intValue(), out);
                        })));
    }

    public record EventRow(long seq, OffsetDateTime at, int index, int attempt, TaskState state, String node, String reason,
                           String message) {
    }

    public Uni<List<EventRow>> eventsAfter(UUID jobId, long afterSeq, int limit) {
        return pool.preparedQuery("""
                SELECT seq, at, idx, attempt, state, node, reason, message FROM task_event
                WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3""")
                .execute(Tuple.of(jobId, afterSeq, limit))
                .map(JobStore::events);
    }

    public Uni<Long> lastEventSeq(UUID jobId) {
        return pool.preparedQuery("SELECT coalesce(max(seq), 0) AS s FROM task_event WHERE job_id = $1")
                .execute(Tuple.of(jobId))
                .map(rows -> rows.iterator().next().getLong("s"));
    }

    private static List<EventRow> events(RowSet<Row> rows) {
        List<EventRow> out = new ArrayList<>(rows.size());
        for (Row r : rows) {
            out.add(new EventRow(r.getLong("seq"), r.getOffsetDateTime("at"), r.getInteger("idx"), r.getInteger("attempt"),
                    TaskState.valueOf(r.getString("state")), r.getString("node"), r.getString("reason"), r.getString("message")));
        }
        return out;
    }

    private static JobRow jobRow(Row r) {
        try {
            Long bound = r.getLong("quote_not_to_exceed_micro_usd");
            String unbounded = r.getString("quote_unbounded");
            Quote quote = bound == null && unbounded == null ? null : new Quote(r.getLong("quote_expected_micro_usd"), bound, unbounded);
            return new JobRow(r.getUUID("id"), JobState.valueOf(r.getString("state")), r.getOffsetDateTime("created_at"),
                    r.getOffsetDateTime("finished_at"), JobSpec.parseFrom(r.getBuffer("spec").getBytes()), quote);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalStateException("job " + r.getUUID("id") + " has an unreadable spec", e);
        }
    }
}
