package dev.spillway.broker.store;

import static dev.spillway.core.lifecycle.StateMachine.sqlList;

import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.burst.LaunchOutcome;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.cost.Billing;
import dev.spillway.core.cost.InstanceCharge;
import dev.spillway.core.filter.Condition;
import dev.spillway.core.filter.FilterSchema;
import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.core.scheduling.Resources;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Cloud instance records: what the broker asked for (desired), with what it saw of each (observed).
 * Every state change is a compare-and-set from the states {@link InstanceState#MACHINE} allows.
 */
@ApplicationScoped
public class InstanceStore {

    private final Pool pool;
    private final Fencing fencing;

    public InstanceStore(Pool pool, Fencing fencing) {
        this.pool = pool;
        this.fencing = fencing;
    }

    /**
     * @param forJobs       the jobs whose waiting tasks it was launched for
     * @param expectedTasks how many waiting tasks it was expected to hold
     * @param decision      why it was launched
     */
    public record InstanceRow(UUID id, String pool, String nodeName, String providerInstance, String instanceType, String region,
                              String zone, boolean spot, double priceUsdPerHour, Resources shape, InstanceState state, String reason,
                              ReasonCode reasonCode, String decision, Set<String> forJobs, int expectedTasks,
                              Instant requestedAt, Instant launchedAt, Instant joinedAt, Instant drainingAt, Instant terminatedAt) {

        /**
         * What it has cost so far: its billed lifetime since launch (per started second, at least
         * a minute, as EC2 and Azure bill) times the price captured at launch, to a millionth of a
         * dollar ({@link InstanceCharge}).
         */
        public double costUsd(Instant now) {
            if (launchedAt == null) return 0;
            Instant end = terminatedAt != null ? terminatedAt : now;
            if (end.isBefore(launchedAt)) end = launchedAt;
            return InstanceCharge.of(id.toString(), pool, launchedAt, end, priceUsdPerHour, Billing.PER_SECOND_MINUTE_MINIMUM).microUsd() / 1e6;
        }

        public String offeringId() {
            return Offering.id(pool, zone, instanceType, spot);
        }
    }

    /** A new record, written REQUESTED before the provider is called; its id is the launch's idempotency key. */
    public record NewInstance(UUID id, String pool, String nodeName, Offering offering, Set<String> forJobs, int expectedTasks,
                              String decision) {
    }

    public Uni<Void> insertRequested(NewInstance n) {
        Offering o = n.offering();
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("""
                INSERT INTO cloud_instance (id, pool, node_name, instance_type, region, zone, spot, price_usd_per_hour,
                                            cpu_millis, memory_mib, gpus, state, reason, reason_code, decision, for_jobs, expected_tasks, epoch)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'REQUESTED', $12, $13, $12, $14, $15, $16)""")
                .execute(Tuple.tuple().addUUID(n.id()).addString(n.pool()).addString(n.nodeName()).addString(o.instanceType())
                        .addString(o.region()).addString(o.zone()).addBoolean(o.spot()).addDouble(o.priceUsdPerHour())
                        .addLong(o.shape().cpuMillis()).addLong(o.shape().memoryMib()).addInteger(o.shape().gpus())
                        .addString(n.decision()).addString(ReasonCode.LAUNCHING.code())
                        .addArrayOfString(n.forJobs().stream().sorted().toArray(String[]::new)).addInteger(n.expectedTasks())
                        .addLong(epoch)))
                .replaceWithVoid();
    }

    /**
     * Moves an instance to {@code to} if its state allows it; false when another writer got there first.
     * Into TERMINATED or FAILED, the instance's node credential is revoked with it (one statement).
     *
     * @param providerInstance set when known (the launch returned it), else kept
     * @param at               the time to stamp (launch time for PROVISIONING: the provider's own for an adopted instance)
     */
    public Uni<Boolean> transition(UUID id, InstanceState to, ReasonCode code, String reason, String providerInstance, Instant at) {
        String stamp = switch (to) {
            case PROVISIONING -> ", launched_at = $6";
            case JOINED -> ", joined_at = $6";
            case DRAINING -> ", draining_at = $6";
            case TERMINATED, FAILED -> ", terminated_at = $6";
            case REQUESTED -> throw new IllegalArgumentException("no instance becomes REQUESTED again");
        };
        String update = "UPDATE cloud_instance SET state = $2, reason = $3, reason_code = $4, "
                + "provider_instance = coalesce($5, provider_instance)" + stamp
                + " WHERE id = $1 AND state IN " + sqlList(InstanceState.sourcesOf(to));
        Tuple args = Tuple.from(Arrays.asList(id, to.name(), reason, code.code(), providerInstance, at.atOffset(ZoneOffset.UTC)));
        if (to != InstanceState.TERMINATED && to != InstanceState.FAILED) {
            return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery(update).execute(args)).map(r -> r.rowCount() == 1);
        }
        // The instance is gone: in the same statement, its node's credential and any unspent join
        // token for it stop working, so a credential copied off the machine lets no one back in.
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("WITH ended AS (" + update + " RETURNING node_name), "
                        + "revoked AS (UPDATE node SET credential_hash = NULL WHERE name IN (SELECT node_name FROM ended)), "
                        + "expired AS (UPDATE join_token SET expires_at = least(expires_at, now()) "
                        + "WHERE node_name IN (SELECT node_name FROM ended) AND used_at IS NULL) "
                        + "SELECT count(*) AS n FROM ended")
                .execute(args)).map(rows -> rows.iterator().next().getLong("n") == 1);
    }

    public Uni<List<InstanceRow>> live() {
        return query("WHERE state IN " + sqlList(InstanceState.LIVE), Tuple.tuple());
    }

    /** Where a page of instances starts: after this one, in (requested_at, id) order. */
    public record After(Instant requestedAt, UUID id) {

        public static After of(InstanceRow r) {
            return new After(r.requestedAt(), r.id());
        }

        /** From {@link #toString()}; IllegalArgumentException when it is not one. */
        public static After parse(String s) {
            int cut = s.indexOf('|');
            if (cut < 0) throw new IllegalArgumentException("not an instance position: " + s);
            return new After(Instant.parse(s.substring(0, cut)), UUID.fromString(s.substring(cut + 1)));
        }

        @Override
        public String toString() {
            return requestedAt + "|" + id;
        }
    }

    /** What ListInstances can be filtered by (AIP-160), and the columns {@link #page} reads them from. */
    public static final FilterSchema FILTER = FilterSchema.builder()
            .enumeration("state", "INSTANCE_STATE_", Arrays.stream(InstanceState.values()).map(Enum::name).toList())
            .bool("spot")
            .text("region")
            .text("zone")
            .text("instance_type")
            .time("request_time")
            .time("join_time")
            .time("terminate_time")
            .build();
    private static final SqlFilter.Columns COLUMNS = new SqlFilter.Columns(Map.of("state", "state", "spot", "spot", "region", "region", "zone", "zone",
            "instance_type", "instance_type", "request_time", "requested_at", "join_time", "joined_at", "terminate_time", "terminated_at"), Map.of());

    /**
     * Instances oldest first, after the cursor (when given), that {@code filter} (of {@link #FILTER}) holds for.
     *
     * @param pool only this pool's; null: every pool's
     */
    public Uni<List<InstanceRow>> page(String pool, Condition filter, After after, int limit) {
        Tuple args = Tuple.of(pool, after == null ? null : after.requestedAt().atOffset(ZoneOffset.UTC), after == null ? null : after.id(), limit);
        String where = SqlFilter.render(filter, COLUMNS, args);
        return query("WHERE ($1::text IS NULL OR pool = $1) AND ($2::timestamptz IS NULL OR (requested_at, id) > ($2, $3)) AND " + where,
                " LIMIT $4", args);
    }

    /**
     * How launches since {@code since} turned out, oldest first: joins, instances that never
     * joined, capacity and setup failures. The burst decision derives hidden offerings and
     * resting pools from these.
     */
    public Uni<List<LaunchOutcome>> outcomesSince(Instant since) {
        return query("WHERE requested_at >= $1 OR terminated_at >= $1", Tuple.of(since.atOffset(ZoneOffset.UTC))).map(rows -> {
            List<LaunchOutcome> out = new ArrayList<>();
            for (InstanceRow r : rows) {
                if (r.joinedAt() != null) {
                    out.add(new LaunchOutcome(r.pool(), r.offeringId(), r.joinedAt(), LaunchOutcome.Kind.JOINED, r.reason()));
                }
                if (r.state() != InstanceState.FAILED || r.reasonCode() == null || r.terminatedAt() == null) continue;
                LaunchOutcome.Kind kind = switch (r.reasonCode()) {
                    case NEVER_JOINED -> LaunchOutcome.Kind.NEVER_JOINED;
                    case NO_CAPACITY -> LaunchOutcome.Kind.NO_CAPACITY;
                    case SETUP_ERROR -> LaunchOutcome.Kind.SETUP_ERROR;
                    default -> null;
                };
                if (kind != null) out.add(new LaunchOutcome(r.pool(), r.offeringId(), r.terminatedAt(), kind, r.reason()));
            }
            out.sort(Comparator.comparing(LaunchOutcome::at));
            return out;
        });
    }

    private Uni<List<InstanceRow>> query(String where, Tuple args) {
        return query(where, "", args);
    }

    private Uni<List<InstanceRow>> query(String where, String limit, Tuple args) {
        return pool.preparedQuery("SELECT * FROM cloud_instance " + where + " ORDER BY requested_at, id" + limit).execute(args).map(rows -> {
            List<InstanceRow> out = new ArrayList<>();
            for (Row r : rows) {
                String[] jobs = r.getArrayOfStrings("for_jobs");
                out.add(new InstanceRow(r.getUUID("id"), r.getString("pool"), r.getString("node_name"), r.getString("provider_instance"),
                        r.getString("instance_type"), r.getString("region"), r.getString("zone"), r.getBoolean("spot"),
                        r.getDouble("price_usd_per_hour"),
                        new Resources(r.getLong("cpu_millis"), r.getLong("memory_mib"), r.getInteger("gpus")),
                        InstanceState.valueOf(r.getString("state")), r.getString("reason"), ReasonCode.fromCode(r.getString("reason_code")),
                        r.getString("decision"), jobs == null ? Set.of() : Set.copyOf(Arrays.asList(jobs)), r.getInteger("expected_tasks"),
                        instant(r.getOffsetDateTime("requested_at")), instant(r.getOffsetDateTime("launched_at")),
                        instant(r.getOffsetDateTime("joined_at")), instant(r.getOffsetDateTime("draining_at")),
                        instant(r.getOffsetDateTime("terminated_at"))));
            }
            return out;
        });
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
