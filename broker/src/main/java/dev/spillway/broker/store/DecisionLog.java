package dev.spillway.broker.store;

import dev.spillway.core.filter.Condition;
import dev.spillway.core.filter.FilterSchema;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The decision log (table {@code attempt_decision}): for every attempt, the node it was placed on,
 * where that node is, the policy version in force and what each rule said. Rows are written by
 * {@link TaskStore#assign} in the statement that assigns the attempt; this class reads them.
 */
@ApplicationScoped
public class DecisionLog {

    private final Pool pool;

    public DecisionLog(Pool pool) {
        this.pool = pool;
    }

    /** A job's tasks placed on a node in one cycle share what the log says of them. */
    public record JobNode(UUID jobId, String node) {
    }

    /** One rule's outcome, as stored. */
    public record Rule(String rule, String outcome, String detail) {
    }

    /**
     * What the log records of a (job, node) placement.
     *
     * @param residency the requirement and how the node met it
     */
    public record Entry(String pool, String region, String jurisdiction, String location, String residency, List<Rule> rules) {

        String rulesJson() {
            JsonArray a = new JsonArray();
            for (Rule r : rules) a.add(new JsonObject().put("rule", r.rule()).put("outcome", r.outcome()).put("detail", r.detail()));
            return a.encode();
        }
    }

    /**
     * The entries of one cycle's placements.
     *
     * @param policyVersion the policy set in force when they were planned; null when none was
     */
    public record Entries(Long policyVersion, Map<JobNode, Entry> byJobNode) {
    }

    /** A stored decision: one attempt. */
    public record Decision(UUID jobId, int index, int attempt, String tenant, String node, String pool, String region, String jurisdiction,
                           String location, Long policyVersion, String residency, List<Rule> rules, Instant decidedAt) {
    }

    /** What ListDecisions can be filtered by (AIP-160), and the columns {@link #list} reads them from. */
    public static final FilterSchema FILTER = FilterSchema.builder()
            .text("tenant")
            .text("pool")
            .text("node")
            .text("region")
            .text("jurisdiction")
            .integer("task")
            .integer("attempt")
            .integer("policy_version")
            .time("decide_time")
            .build();
    private static final SqlFilter.Columns COLUMNS = new SqlFilter.Columns(Map.of("tenant", "tenant", "pool", "pool", "node", "node",
            "region", "region", "jurisdiction", "jurisdiction", "task", "idx::bigint", "attempt", "attempt::bigint",
            "policy_version", "policy_version", "decide_time", "decided_at"), Map.of());

    /**
     * Decisions newest first, at most {@code limit}, that {@code filter} (of {@link #FILTER}) holds for.
     *
     * @param tenants only these tenants' decisions; null: any tenant's
     * @param jobId only this job's; null: every job's
     * @param before only decisions strictly older than this (decided_at, job, idx, attempt) position, for paging
     */
    public Uni<List<Decision>> list(String[] tenants, UUID jobId, Condition filter, Cursor before, int limit) {
        Tuple args = Tuple.from(new Object[] {tenants, jobId,
                before == null ? null : OffsetDateTime.ofInstant(before.decidedAt(), ZoneOffset.UTC),
                before == null ? null : before.jobId(), before == null ? null : before.index(), before == null ? null : before.attempt(),
                limit});
        String where = SqlFilter.render(filter, COLUMNS, args);
        return pool.preparedQuery("""
                        SELECT job_id, idx, attempt, tenant, node, pool, region, jurisdiction, location, policy_version, residency, rules, decided_at
                        FROM attempt_decision
                        WHERE ($1::text[] IS NULL OR tenant = ANY($1)) AND ($2::uuid IS NULL OR job_id = $2)
                          AND ($3::timestamptz IS NULL OR (decided_at, job_id, idx, attempt) < ($3, $4::uuid, $5::int, $6::int))
                          AND\s""" + where + """

                        ORDER BY decided_at DESC, job_id DESC, idx DESC, attempt DESC
                        LIMIT $7""")
                .execute(args)
                .map(rows -> {
                    List<Decision> out = new ArrayList<>();
                    for (Row r : rows) out.add(decision(r));
                    return out;
                });
    }

    /** Where a page of decisions ended: the next page starts strictly after it. */
    public record Cursor(Instant decidedAt, UUID jobId, int index, int attempt) {
        public static Cursor after(Decision d) {
            return new Cursor(d.decidedAt(), d.jobId(), d.index(), d.attempt());
        }
    }

    private static Decision decision(Row r) {
        List<Rule> rules = new ArrayList<>();
        JsonArray json = (JsonArray) r.getValue("rules");
        for (int i = 0; i < json.size(); i++) {
            JsonObject o = json.getJsonObject(i);
            rules.add(new Rule(o.getString("rule"), o.getString("outcome"), o.getString("detail", "")));
        }
        return new Decision(r.getUUID("job_id"), r.getInteger("idx"), r.getInteger("attempt"), r.getString("tenant"), r.getString("node"),
                r.getString("pool"), r.getString("region"), r.getString("jurisdiction"), r.getString("location"), r.getLong("policy_version"),
                r.getString("residency"), rules, r.getOffsetDateTime("decided_at").toInstant());
    }
}
