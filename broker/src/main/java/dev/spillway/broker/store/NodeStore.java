package dev.spillway.broker.store;

import static dev.spillway.core.lifecycle.StateMachine.sqlList;

import dev.spillway.core.lifecycle.NodeState;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.task.TaskState;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/** Nodes and pools in PostgreSQL. */
@ApplicationScoped
public class NodeStore {

    private final Pool pool;
    private final Fencing fencing;

    public NodeStore(Pool pool, Fencing fencing) {
        this.pool = pool;
        this.fencing = fencing;
    }

    /** What a registering node says about itself, with what was fixed for it already applied to its labels. */
    public record Registration(String name, String pool, String poolKind, Resources capacity, Map<String, String> labels,
                               String agentVersion, boolean draining) {
    }

    /** What is fixed for a node (see {@code Provisioning}): its pool, labels and capacity ceiling (null: none). */
    public record Fixed(String pool, Map<String, String> labels, Resources ceiling) {
    }

    /**
     * A node joining with a join token: records it READY or DRAINING (creating its pool if needed)
     * with what its token fixed and the hash of its new credential, in one statement that refuses
     * a name whose node already has a credential unless {@code replace}. The node keeps its id
     * across registrations. Returns the node id, or null when refused.
     */
    public Uni<UUID> join(Registration r, Map<String, String> fixedLabels, Resources ceiling, String credentialHash, boolean replace) {
        Tuple args = registrationArgs(r)
                .addValue(new JsonObject(Map.copyOf(fixedLabels)))
                .addLong(ceiling == null ? null : ceiling.cpuMillis()).addLong(ceiling == null ? null : ceiling.memoryMib())
                .addInteger(ceiling == null ? null : ceiling.gpus())
                .addString(credentialHash).addBoolean(replace);
        return upsert(args, """
                fixed_labels = excluded.fixed_labels, max_cpu_millis = excluded.max_cpu_millis, max_memory_mib = excluded.max_memory_mib,
                max_gpus = excluded.max_gpus, credential_hash = excluded.credential_hash
                WHERE node.credential_hash IS NULL OR $16""");
    }

    /**
     * A node registering with the shared agent token: as {@link #join} with no credential, and
     * refused (null) when the node has a credential of its own.
     */
    public Uni<UUID> registerShared(Registration r, Map<String, String> fixedLabels) {
        Tuple args = registrationArgs(r)
                .addValue(new JsonObject(Map.copyOf(fixedLabels)))
                .addLong(null).addLong(null).addInteger(null).addString(null).addBoolean(false);
        return upsert(args, """
                fixed_labels = excluded.fixed_labels, max_cpu_millis = NULL, max_memory_mib = NULL, max_gpus = NULL
                WHERE node.credential_hash IS NULL AND NOT $16""");
    }

    /** {@link #registerShared} with no fixed labels: a node that has no credential of its own. */
    public Uni<UUID> register(String name, String poolName, String poolKind, Resources capacity, Map<String, String> labels,
                              String agentVersion, boolean draining) {
        return registerShared(new Registration(name, poolName, poolKind, capacity, labels, agentVersion, draining), Map.of());
    }

    /**
     * A node registering with its credential (its pool and what was fixed for it unchanged):
     * refused (null) when {@code credentialHash} is no longer the node's, e.g. revoked meanwhile.
     */
    public Uni<UUID> reconnect(Registration r, String credentialHash) {
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("""
                        UPDATE node SET state = $3, cpu_millis = $4, memory_mib = $5, gpus = $6, labels = $7, agent_version = $8,
                            registered_at = now(), last_seen_at = now()
                        WHERE name = $1 AND credential_hash = $2 RETURNING id""")
                .execute(Tuple.tuple().addString(r.name()).addString(credentialHash)
                        .addString((r.draining() ? NodeState.DRAINING : NodeState.READY).name())
                        .addLong(r.capacity().cpuMillis()).addLong(r.capacity().memoryMib()).addInteger(r.capacity().gpus())
                        .addValue(new JsonObject(Map.copyOf(r.labels()))).addString(r.agentVersion())))
                .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getUUID("id"));
    }

    private static Tuple registrationArgs(Registration r) {
        return Tuple.tuple()
                .addString(r.name()).addUUID(UUID.randomUUID()).addString(r.pool())
                .addString((r.draining() ? NodeState.DRAINING : NodeState.READY).name())
                .addLong(r.capacity().cpuMillis()).addLong(r.capacity().memoryMib()).addInteger(r.capacity().gpus())
                .addValue(new JsonObject(Map.copyOf(r.labels())))
                .addString(r.agentVersion())
                .addString(r.poolKind());
    }

    private Uni<UUID> upsert(Tuple args, String onConflict) {
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("""
                WITH p AS (INSERT INTO pool (name, kind) VALUES ($3, $10) ON CONFLICT (name) DO NOTHING)
                INSERT INTO node (name, id, pool, state, cpu_millis, memory_mib, gpus, labels, agent_version, registered_at, last_seen_at,
                    fixed_labels, max_cpu_millis, max_memory_mib, max_gpus, credential_hash)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), now(), $11, $12, $13, $14, $15)
                ON CONFLICT (name) DO UPDATE SET pool = excluded.pool, state = excluded.state,
                    cpu_millis = excluded.cpu_millis, memory_mib = excluded.memory_mib, gpus = excluded.gpus,
                    labels = excluded.labels, agent_version = excluded.agent_version,
                    registered_at = now(), last_seen_at = now(),
                """ + onConflict + "\nRETURNING id")
                .execute(args))
                .onFailure(f -> !Fencing.fenced(f)).retry().atMost(1) // a concurrent first insert of the same pool: the retry sees it
                .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getUUID("id"));
    }

    /** What is fixed for the node whose credential hashes to {@code credentialHash}; null when it is not the node's. */
    public Uni<Fixed> fixedFor(String nodeName, String credentialHash) {
        return pool.preparedQuery("""
                        SELECT pool, fixed_labels, max_cpu_millis, max_memory_mib, max_gpus FROM node
                        WHERE name = $1 AND credential_hash = $2""")
                .execute(Tuple.of(nodeName, credentialHash))
                .map(rows -> {
                    if (rows.size() == 0) return null;
                    Row r = rows.iterator().next();
                    return new Fixed(r.getString("pool"), labels(r.getJsonObject("fixed_labels")), ceiling(r));
                });
    }

    /** Whether the node exists and holds a credential (it joined with a join token, and was not revoked). */
    public Uni<Boolean> hasCredential(String nodeName) {
        return pool.preparedQuery("SELECT 1 FROM node WHERE name = $1 AND credential_hash IS NOT NULL")
                .execute(Tuple.of(nodeName)).map(rows -> rows.size() == 1);
    }

    static Map<String, String> labels(JsonObject json) {
        Map<String, String> out = new TreeMap<>();
        if (json != null) json.forEach(e -> out.put(e.getKey(), String.valueOf(e.getValue())));
        return out;
    }

    /** The ceiling in columns max_cpu_millis, max_memory_mib, max_gpus; null when unset. */
    static Resources ceiling(Row r) {
        Long cpu = r.getLong("max_cpu_millis");
        if (cpu == null) return null;
        return new Resources(cpu, r.getLong("max_memory_mib"), r.getInteger("max_gpus"));
    }

    public Uni<Void> ensurePool(String name, String kind) {
        return pool.preparedQuery("INSERT INTO pool (name, kind) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .execute(Tuple.of(name, kind)).replaceWithVoid();
    }

    /** Moves a node to {@code to} if its state allows it; false when it did not (another writer got there first). */
    public Uni<Boolean> setState(String name, NodeState to) {
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("UPDATE node SET state = $2, last_seen_at = now() WHERE name = $1 AND state IN "
                        + sqlList(NodeState.MACHINE.sourcesOf(to)))
                .execute(Tuple.of(name, to.name()))).map(r -> r.rowCount() == 1);
    }

    /** Writes the heartbeat times kept in memory (one statement for all nodes). */
    public Uni<Void> touch(Map<String, Instant> lastSeen) {
        if (lastSeen.isEmpty()) return Uni.createFrom().voidItem();
        String[] names = lastSeen.keySet().toArray(String[]::new);
        OffsetDateTime[] times = new OffsetDateTime[names.length];
        for (int i = 0; i < names.length; i++) times[i] = lastSeen.get(names[i]).atOffset(ZoneOffset.UTC);
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("""
                UPDATE node n SET last_seen_at = v.t FROM unnest($1::text[], $2::timestamptz[]) AS v(name, t)
                WHERE n.name = v.name""").execute(Tuple.of(names, times))).replaceWithVoid();
    }

    /** A node the database believes connected (READY or DRAINING), as it registered. */
    public record Connected(String name, String pool, Resources capacity, Map<String, String> labels, boolean draining) {
    }

    /** The nodes the database believes connected: what a broker that does not hold their streams places on. */
    public Uni<List<Connected>> connected() {
        return pool.query("SELECT name, pool, state, cpu_millis, memory_mib, gpus, labels FROM node WHERE state IN "
                        + sqlList(NodeState.CONNECTED) + " ORDER BY name").execute()
                .map(rows -> {
                    List<Connected> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Connected(r.getString("name"), r.getString("pool"),
                                new Resources(r.getLong("cpu_millis"), r.getLong("memory_mib"), r.getInteger("gpus")), labels(r.getJsonObject("labels")),
                                NodeState.DRAINING.name().equals(r.getString("state"))));
                    }
                    return out;
                });
    }

    /** Names of nodes the database believes connected (READY or DRAINING). */
    public Uni<List<String>> connectedNames() {
        return pool.query("SELECT name FROM node WHERE state IN " + sqlList(NodeState.CONNECTED)).execute()
                .map(rows -> {
                    List<String> out = new ArrayList<>();
                    for (Row r : rows) out.add(r.getString("name"));
                    return out;
                });
    }

    /** What the assigned and running tasks on one node hold. */
    public record Allocation(Resources resources, int tasks) {
    }

    /** Allocation per node name (nodes holding nothing are absent). */
    public Uni<Map<String, Allocation>> allocations() {
        return pool.query("""
                SELECT t.node, sum(j.cpu_millis)::bigint AS cpu, sum(j.memory_mib)::bigint AS mem, sum(j.gpus)::int AS gpu, count(*)::int AS n
                FROM task t JOIN job j ON j.id = t.job_id
                WHERE t.state IN %s GROUP BY t.node""".formatted(sqlList(TaskState.ON_NODE)))
                .execute()
                .map(rows -> {
                    Map<String, Allocation> out = new HashMap<>();
                    for (Row r : rows) {
                        out.put(r.getString("node"), new Allocation(
                                new Resources(r.getLong("cpu"), r.getLong("mem"), r.getInteger("gpu")), r.getInteger("n")));
                    }
                    return out;
                });
    }

    /** One node size a pool has registered. */
    public record Shape(String pool, Resources capacity) {
    }

    /** The distinct node sizes of every pool. */
    public Uni<List<Shape>> shapes() {
        return pool.query("SELECT DISTINCT pool, cpu_millis, memory_mib, gpus FROM node").execute().map(rows -> {
            List<Shape> out = new ArrayList<>();
            for (Row r : rows) {
                out.add(new Shape(r.getString("pool"), new Resources(r.getLong("cpu_millis"), r.getLong("memory_mib"), r.getInteger("gpus"))));
            }
            return out;
        });
    }
}
