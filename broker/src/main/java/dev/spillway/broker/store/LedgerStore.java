package dev.spillway.broker.store;

import dev.spillway.core.cost.Ledger;
import dev.spillway.core.scheduling.Resources;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The cost ledger's records: what it reads to price a window of time (cloud instances, attempts
 * that ended in it, attempts still holding nodes, their jobs), its closed hours ({@code cost_entry})
 * and how far they reach ({@code cost_ledger}).
 */
@ApplicationScoped
public class LedgerStore {

    private final Pool pool;

    public LedgerStore(Pool pool) {
        this.pool = pool;
    }

    /** What an instance was bought as. */
    public record Offer(String instanceType, String region, String zone, boolean spot) {
    }

    /** A job's name and labels, for grouping; absent for a job deleted since. */
    public record JobFacts(String name, Map<String, String> labels) {
    }

    /** One consistent reading of the records that touch a window. */
    public record Reading(List<Ledger.Instance> instances, Map<String, Offer> offers, List<Ledger.Attempt> attempts, Map<String, JobFacts> jobs) {
    }

    /**
     * The instances launched before {@code to} and not ended before {@code from}, the attempts
     * that held a node in between and those holding one now, and their jobs: read in one
     * snapshot, so an attempt that ends meanwhile is seen once.
     */
    public Uni<Reading> read(Instant from, Instant to) {
        Tuple window = Tuple.of(at(from), at(to));
        return pool.withTransaction(tx -> tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute()
                .flatMap(set -> tx.preparedQuery("""
                        SELECT id, node_name, pool, cpu_millis, memory_mib, gpus, launched_at, price_usd_per_hour, instance_type, region, zone, spot,
                               CASE WHEN state IN ('TERMINATED', 'FAILED') THEN greatest(launched_at, coalesce(terminated_at, launched_at)) END AS ended_at
                        FROM cloud_instance
                        WHERE launched_at IS NOT NULL AND launched_at < $2
                          AND (state NOT IN ('TERMINATED', 'FAILED') OR coalesce(terminated_at, launched_at) >= $1)""").execute(window))
                .flatMap(instances -> tx.preparedQuery("""
                        SELECT job_id, tenant, node, pool, cpu_millis, memory_mib, gpus, started_at, ended_at FROM attempt_usage
                        WHERE ended_at > $1 AND started_at < $2
                        UNION ALL
                        SELECT t.job_id, j.tenant, t.node, coalesce(n.pool, ''), j.cpu_millis, j.memory_mib, j.gpus, t.assigned_at, NULL
                        FROM task t JOIN job j ON j.id = t.job_id LEFT JOIN node n ON n.name = t.node
                        WHERE t.state IN ('ASSIGNED', 'RUNNING') AND t.assigned_at < $2 AND t.node IS NOT NULL""").execute(window)
                        .flatMap(attempts -> {
                            List<Ledger.Attempt> held = new ArrayList<>();
                            java.util.Set<UUID> jobIds = new java.util.HashSet<>();
                            for (Row r : attempts) {
                                jobIds.add(r.getUUID("job_id"));
                                held.add(new Ledger.Attempt(r.getUUID("job_id").toString(), r.getString("tenant"), r.getString("node"), r.getString("pool"),
                                        new Resources(r.getLong("cpu_millis"), r.getLong("memory_mib"), r.getInteger("gpus")),
                                        instant(r.getOffsetDateTime("started_at")), instant(r.getOffsetDateTime("ended_at"))));
                            }
                            return jobs(tx, jobIds).map(jobs -> reading(instances, held, jobs));
                        })));
    }

    private static Uni<Map<String, JobFacts>> jobs(SqlClient tx, java.util.Set<UUID> ids) {
        if (ids.isEmpty()) return Uni.createFrom().item(Map.of());
        return tx.preparedQuery("SELECT id, name, labels FROM job WHERE id = ANY($1)").execute(Tuple.of(ids.toArray(UUID[]::new))).map(rows -> {
            Map<String, JobFacts> out = new HashMap<>();
            for (Row r : rows) out.put(r.getUUID("id").toString(), new JobFacts(r.getString("name"), labels(r.getJsonObject("labels"))));
            return out;
        });
    }

    private static Reading reading(io.vertx.mutiny.sqlclient.RowSet<Row> rows, List<Ledger.Attempt> attempts, Map<String, JobFacts> jobs) {
        List<Ledger.Instance> instances = new ArrayList<>();
        Map<String, Offer> offers = new HashMap<>();
        for (Row r : rows) {
            String id = r.getUUID("id").toString();
            instances.add(new Ledger.Instance(id, r.getString("node_name"), r.getString("pool"),
                    new Resources(r.getLong("cpu_millis"), r.getLong("memory_mib"), r.getInteger("gpus")),
                    instant(r.getOffsetDateTime("launched_at")), instant(r.getOffsetDateTime("ended_at")), r.getDouble("price_usd_per_hour")));
            offers.put(id, new Offer(r.getString("instance_type"), r.getString("region"), r.getString("zone"), r.getBoolean("spot")));
        }
        return new Reading(instances, offers, attempts, jobs);
    }

    /** Up to when the ledger's hours are closed; null before its first closing. */
    public Uni<Instant> closedUntil() {
        return pool.query("SELECT closed_until FROM cost_ledger").execute()
                .map(rows -> rows.size() == 0 ? null : instant(rows.iterator().next().getOffsetDateTime("closed_until")));
    }

    /** When the first record the ledger prices began (an instance's launch, an attempt's start); null when there is none. */
    public Uni<Instant> firstActivity() {
        return pool.query("""
                SELECT least((SELECT min(launched_at) FROM cloud_instance), (SELECT min(started_at) FROM attempt_usage),
                             (SELECT min(assigned_at) FROM task WHERE state IN ('ASSIGNED', 'RUNNING'))) AS first""").execute()
                .map(rows -> instant(rows.iterator().next().getOffsetDateTime("first")));
    }

    /** The first time at or after {@code after} that an instance was launched or an attempt took a node; null when none did. */
    public Uni<Instant> nextActivity(Instant after) {
        return pool.preparedQuery("""
                SELECT least((SELECT min(launched_at) FROM cloud_instance WHERE launched_at >= $1),
                             (SELECT min(started_at) FROM attempt_usage WHERE started_at >= $1),
                             (SELECT min(assigned_at) FROM task WHERE state IN ('ASSIGNED', 'RUNNING') AND assigned_at >= $1)) AS next""")
                .execute(Tuple.of(at(after)))
                .map(rows -> instant(rows.iterator().next().getOffsetDateTime("next")));
    }

    /** A closed hour's line, with what the report and the export show of it. */
    public record Line(Ledger.Entry entry, Offer offer, double unitUsdPerHour, JobFacts job) {
    }

    /**
     * Writes the lines of the hours from {@code from} until {@code until} and moves the ledger's
     * closing to {@code until}, in one transaction, if the ledger is still closed up to exactly
     * {@code from} (false, and nothing written, if another closing got there first).
     */
    public Uni<Boolean> close(Instant from, Instant until, List<Line> lines) {
        return pool.withTransaction(tx -> tx.preparedQuery("""
                        INSERT INTO cost_ledger (closed_until) VALUES ($1) ON CONFLICT (one) DO NOTHING""").execute(Tuple.of(at(from)))
                .flatMap(init -> tx.preparedQuery("UPDATE cost_ledger SET closed_until = $2 WHERE closed_until = $1")
                        .execute(Tuple.of(at(from), at(until))))
                .flatMap(moved -> moved.rowCount() == 0 ? Uni.createFrom().item(false) : insert(tx, lines).replaceWith(true)));
    }

    private static Uni<Void> insert(SqlClient tx, List<Line> lines) {
        if (lines.isEmpty()) return Uni.createFrom().voidItem();
        int n = lines.size();
        OffsetDateTime[] periods = new OffsetDateTime[n];
        String[] kinds = new String[n];
        String[] pools = new String[n];
        String[] nodes = new String[n];
        UUID[] instances = new UUID[n];
        UUID[] jobs = new UUID[n];
        String[] tenants = new String[n];
        String[] names = new String[n];
        String[] labels = new String[n];
        Double[] seconds = new Double[n];
        Long[] micros = new Long[n];
        String[] types = new String[n];
        String[] regions = new String[n];
        String[] zones = new String[n];
        Boolean[] spots = new Boolean[n];
        Double[] units = new Double[n];
        for (int i = 0; i < n; i++) {
            Line l = lines.get(i);
            Ledger.Entry e = l.entry();
            periods[i] = at(e.periodStart());
            kinds[i] = e.kind().name();
            pools[i] = e.pool();
            nodes[i] = e.node();
            instances[i] = e.instanceId() == null ? null : UUID.fromString(e.instanceId());
            jobs[i] = e.jobId() == null ? null : UUID.fromString(e.jobId());
            tenants[i] = e.tenant();
            names[i] = l.job() == null ? null : l.job().name();
            labels[i] = l.job() == null ? "{}" : new JsonObject(Map.copyOf(l.job().labels())).encode();
            seconds[i] = e.seconds();
            micros[i] = e.microUsd();
            types[i] = l.offer() == null ? null : l.offer().instanceType();
            regions[i] = l.offer() == null ? null : l.offer().region();
            zones[i] = l.offer() == null ? null : l.offer().zone();
            spots[i] = l.offer() == null ? null : l.offer().spot();
            units[i] = l.unitUsdPerHour();
        }
        return tx.preparedQuery("""
                INSERT INTO cost_entry (period_start, kind, pool, node, instance_id, job_id, tenant, job_name, labels, seconds, cost_micro_usd,
                                        instance_type, region, zone, spot, unit_usd_per_hour)
                SELECT p, k, pl, nd, i, j, t, nm, lb::jsonb, s, c, ty, rg, zn, sp, u
                FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[], $9::text[],
                            $10::float8[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::bool[], $16::float8[])
                     AS x(p, k, pl, nd, i, j, t, nm, lb, s, c, ty, rg, zn, sp, u)""")
                .execute(Tuple.from(List.of(periods, kinds, pools, nodes, instances, jobs, tenants, names, labels, seconds, micros, types, regions,
                        zones, spots, units)))
                .replaceWithVoid();
    }

    /** How closed lines are grouped: by tenant, pool, job, or the value of one job label. */
    public enum Grouping { TENANT, POOL, JOB, LABEL }

    /** A group's sums over closed hours: cloud cost allocated to jobs, on-prem cost, idle cloud cost, task-seconds; micro-USD. */
    public record Sum(String key, String name, long cloudMicroUsd, long onPremMicroUsd, long idleMicroUsd, double taskSeconds) {
    }

    /**
     * The closed lines from {@code from} until {@code to} summed by group; only {@code tenants}' lines when not null
     * (idle lines belong to no tenant, so they are left out then).
     */
    public Uni<List<Sum>> sums(Instant from, Instant to, Grouping grouping, String labelKey, String[] tenants, java.util.UUID job) {
        String key = switch (grouping) {
            case TENANT -> "coalesce(tenant, '')";
            case POOL -> "pool";
            case JOB -> "coalesce(job_id::text, '')";
            case LABEL -> "CASE WHEN job_id IS NULL THEN '' ELSE coalesce(labels ->> $4, '') END";
        };
        String name = grouping == Grouping.JOB ? "max(job_name)" : "''";
        return pool.preparedQuery("""
                        SELECT %1$s AS key, %2$s AS name,
                               coalesce(sum(cost_micro_usd) FILTER (WHERE kind = 'CLOUD' AND job_id IS NOT NULL), 0) AS cloud,
                               coalesce(sum(cost_micro_usd) FILTER (WHERE kind = 'ON_PREM'), 0) AS on_prem,
                               coalesce(sum(cost_micro_usd) FILTER (WHERE job_id IS NULL), 0) AS idle,
                               coalesce(sum(seconds) FILTER (WHERE job_id IS NOT NULL), 0) AS task_seconds
                        FROM cost_entry
                        WHERE period_start >= $1 AND period_start < $2 AND ($3::text[] IS NULL OR tenant = ANY($3)) %3$s
                        GROUP BY 1""".formatted(key, name, job == null ? "" : "AND job_id = $" + (grouping == Grouping.LABEL ? 5 : 4)))
                .execute(params(grouping == Grouping.LABEL ? Tuple.of(at(from), at(to), tenants, labelKey) : Tuple.of(at(from), at(to), tenants), job))
                .map(rows -> {
                    List<Sum> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Sum(r.getString("key"), r.getString("name"), r.getLong("cloud"), r.getLong("on_prem"), r.getLong("idle"),
                                r.getDouble("task_seconds")));
                    }
                    return out;
                });
    }

    private static Tuple params(Tuple base, java.util.UUID job) {
        return job == null ? base : base.addUUID(job);
    }

    /** Closed lines from {@code from} until {@code to}, in period order, for an export; only {@code tenants}' when not null. */
    public Uni<List<Line>> lines(Instant from, Instant to, String[] tenants) {
        return pool.preparedQuery("""
                        SELECT * FROM cost_entry
                        WHERE period_start >= $1 AND period_start < $2 AND ($3::text[] IS NULL OR tenant = ANY($3))
                        ORDER BY period_start, kind, node, job_id NULLS LAST""")
                .execute(Tuple.of(at(from), at(to), tenants))
                .map(rows -> {
                    List<Line> out = new ArrayList<>();
                    for (Row r : rows) {
                        UUID instance = r.getUUID("instance_id");
                        UUID job = r.getUUID("job_id");
                        Ledger.Entry e = new Ledger.Entry(instant(r.getOffsetDateTime("period_start")), Ledger.Kind.valueOf(r.getString("kind")),
                                r.getString("pool"), r.getString("node"), instance == null ? null : instance.toString(), job == null ? null : job.toString(),
                                r.getString("tenant"), r.getDouble("seconds"), r.getLong("cost_micro_usd"));
                        Offer offer = r.getString("instance_type") == null ? null
                                : new Offer(r.getString("instance_type"), r.getString("region"), r.getString("zone"), r.getBoolean("spot"));
                        JobFacts facts = job == null ? null : new JobFacts(r.getString("job_name"), labels(r.getJsonObject("labels")));
                        out.add(new Line(e, offer, r.getDouble("unit_usd_per_hour"), facts));
                    }
                    return out;
                });
    }

    private static Map<String, String> labels(JsonObject json) {
        Map<String, String> out = new java.util.TreeMap<>();
        if (json != null) for (String k : json.fieldNames()) out.put(k, String.valueOf(json.getValue(k)));
        return out;
    }

    private static OffsetDateTime at(Instant t) {
        return t == null ? null : t.atOffset(ZoneOffset.UTC);
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
