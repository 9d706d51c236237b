package dev.spillway.broker.cloud;

import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.scheduling.Resources;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Cloud instance records. Every state change is a compare-and-set from the states {@link InstanceState} allows. */
@ApplicationScoped
public class InstanceStore {

    private final Pool pool;

    public InstanceStore(Pool pool) {
        this.pool = pool;
    }

    public record InstanceRow(UUID id, String pool, String nodeName, String providerInstance, String instanceType, String region,
                              String zone, boolean spot, double priceUsdPerHour, Resources shape, InstanceState state, String reason,
                              String decision,
                              Instant requestedAt, Instant launchedAt, Instant joinedAt, Instant drainingAt, Instant terminatedAt) {

        /** What it has cost so far: its lifetime since launch times its price. */
        public double costUsd(Instant now) {
            if (launchedAt == null) return 0;
            Instant end = terminatedAt != null ? terminatedAt : now;
            return Math.max(0, java.time.Duration.between(launchedAt, end).toNanos()) / 3.6e12 * priceUsdPerHour;
        }
    }

    public Uni<Void> insertRequested(UUID id, String poolName, String nodeName, String type, String region, String zone, boolean spot,
                                     double price, Resources shape, String decision) {
        return pool.preparedQuery("""
                INSERT INTO cloud_instance (id, pool, node_name, instance_type, region, zone, spot, price_usd_per_hour,
                                            cpu_millis, memory_mib, gpus, state, reason, decision)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'REQUESTED', $12, $12)""")
                .execute(Tuple.tuple().addUUID(id).addString(poolName).addString(nodeName).addString(type).addString(region)
                        .addString(zone).addBoolean(spot).addDouble(price).addLong(shape.cpuMillis()).addLong(shape.memoryMib())
                        .addInteger(shape.gpus()).addString(decision))
                .replaceWithVoid();
    }

    /** Moves an instance to {@code to} if its state allows it; false when another writer got there first. */
    public Uni<Boolean> transition(UUID id, InstanceState to, String reason, String providerInstance) {
        String stamp = switch (to) {
            case PROVISIONING -> ", launched_at = now()";
            case JOINED -> ", joined_at = now()";
            case DRAINING -> ", draining_at = now()";
            case TERMINATED, FAILED -> ", terminated_at = now()";
            default -> "";
        };
        String[] from = InstanceState.sourcesOf(to).stream().map(Enum::name).toArray(String[]::new);
        return pool.preparedQuery("UPDATE cloud_instance SET state = $2, reason = $3, provider_instance = coalesce($4, provider_instance)"
                        + stamp + " WHERE id = $1 AND state = ANY($5)")
                .execute(Tuple.of(id, to.name(), reason, providerInstance, from))
                .map(r -> r.rowCount() == 1);
    }

    public Uni<List<InstanceRow>> live() {
        return query("WHERE state IN ('REQUESTED', 'PROVISIONING', 'JOINED', 'DRAINING')");
    }

    public Uni<List<InstanceRow>> all() {
        return query("");
    }

    private Uni<List<InstanceRow>> query(String where) {
        return pool.query("SELECT * FROM cloud_instance " + where + " ORDER BY requested_at, id").execute().map(rows -> {
            List<InstanceRow> out = new ArrayList<>();
            for (Row r : rows) {
                out.add(new InstanceRow(r.getUUID("id"), r.getString("pool"), r.getString("node_name"), r.getString("provider_instance"),
                        r.getString("instance_type"), r.getString("region"), r.getString("zone"), r.getBoolean("spot"),
                        r.getDouble("price_usd_per_hour"),
                        new Resources(r.getLong("cpu_millis"), r.getLong("memory_mib"), r.getInteger("gpus")),
                        InstanceState.valueOf(r.getString("state")), r.getString("reason"), r.getString("decision"),
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
