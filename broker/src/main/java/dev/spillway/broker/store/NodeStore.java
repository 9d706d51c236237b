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
import java.util.UUID;

/** Nodes and pools in PostgreSQL. */
@ApplicationScoped
public class NodeStore {

    private final Pool pool;

    public NodeStore(Pool pool) {
        this.pool = pool;
    }

    /**
     * Records a (re-)registering node as READY or DRAINING, creating its pool if needed. The node
     * keeps its id across registrations. Returns the node id.
     */
    public Uni<UUID> register(String name, String poolName, String poolKind, Resources capacity, Map<String, String> labels,
                              String agentVersion, boolean draining) {
        Tuple args = Tuple.tuple()
                .addString(name).addUUID(UUID.randomUUID()).addString(poolName)
                .addString((draining ? NodeState.DRAINING : NodeState.READY).name())
                .addLong(capacity.cpuMillis()).addLong(capacity.memoryMib()).addInteger(capacity.gpus())
                .addValue(new JsonObject(Map.copyOf(labels)))
                .addString(agentVersion)
                .addString(poolKind);
        return pool.preparedQuery("""
                WITH p AS (INSERT INTO pool (name, kind) VALUES ($3, $10) ON CONFLICT (name) DO NOTHING)
                INSERT INTO node (name, id, pool, state, cpu_millis, memory_mib, gpus, labels, agent_version, registered_at, last_seen_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), now())
                ON CONFLICT (name) DO UPDATE SET pool = excluded.pool, state = excluded.state,
                    cpu_millis = excluded.cpu_millis, memory_mib = excluded.memory_mib, gpus = excluded.gpus,
                    labels = excluded.labels, agent_version = excluded.agent_version,
                    registered_at = now(), last_seen_at = now()
                RETURNING id""")
                .execute(args)
                .onFailure().retry().atMost(1) // a concurrent first insert of the same pool: the retry sees it
                .map(rows -> rows.iterator().next().getUUID("id"));
    }

    public Uni<Void> ensurePool(String name, String kind) {
        return pool.preparedQuery("INSERT INTO pool (name, kind) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .execute(Tuple.of(name, kind)).replaceWithVoid();
    }

    /** Moves a node to {@code to} if its state allows it; false when it did not (another writer got there first). */
    public Uni<Boolean> setState(String name, NodeState to) {
        return pool.preparedQuery("UPDATE node SET state = $2, last_seen_at = now() WHERE name = $1 AND state IN "
                        + sqlList(NodeState.MACHINE.sourcesOf(to)))
                .execute(Tuple.of(name, to.name())).map(r -> r.rowCount() == 1);
    }

    /** Writes the heartbeat times kept in memory (one statement for all nodes). */
    public Uni<Void> touch(Map<String, Instant> lastSeen) {
        if (lastSeen.isEmpty()) return Uni.createFrom().voidItem();
        String[] names = lastSeen.keySet().toArray(String[]::new);
        OffsetDateTime[] times = new OffsetDateTime[names.length];
        for (int i = 0; i < names.length; i++) times[i] = lastSeen.get(names[i]).atOffset(ZoneOffset.UTC);
        return pool.preparedQuery("""
                UPDATE node n SET last_seen_at = v.t FROM unnest($1::text[], $2::timestamptz[]) AS v(name, t)
                WHERE n.name = v.name""").execute(Tuple.of(names, times)).replaceWithVoid();
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

    /** Replaces the node's credential hash (a fresh credential after a join). */
    public Uni<Void> setCredentialHash(String nodeName, String hash) {
        return pool.preparedQuery("UPDATE node SET credential_hash = $2 WHERE name = $1").execute(Tuple.of(nodeName, hash)).replaceWithVoid();
    }

    /** Whether {@code hash} is the hash of the node's current credential. */
    public Uni<Boolean> credentialMatches(String nodeName, String hash) {
        return pool.preparedQuery("SELECT 1 FROM node WHERE name = $1 AND credential_hash = $2")
                .execute(Tuple.of(nodeName, hash)).map(rows -> rows.size() == 1);
    }
}
