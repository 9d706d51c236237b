package dev.spillway.broker.cluster;

import dev.spillway.broker.store.NodeEntity;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.broker.store.PoolEntity;
import dev.spillway.core.lifecycle.NodeState;
import dev.spillway.core.scheduling.Resources;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.panache.common.Parameters;
import io.quarkus.panache.common.Sort;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Pools and nodes as clients see them (gRPC and REST share it): the rows through Hibernate
 * Reactive, what tasks hold on each node from one aggregate query.
 */
@ApplicationScoped
public class ClusterView {

    /** A node with what its tasks hold. */
    public record NodeView(String name, UUID id, String pool, NodeState state, Resources capacity, Resources allocated, int runningTasks,
                           Map<String, String> labels, OffsetDateTime lastSeenAt, String agentVersion) {
    }

    /** A pool with its connected capacity and what tasks hold of it. */
    public record PoolView(String name, String kind, int readyNodes, Resources capacity, Resources allocated, int runningTasks) {
    }

    private final NodeStore nodes;

    public ClusterView(NodeStore nodes) {
        this.nodes = nodes;
    }

    private record NodeRows(List<NodeEntity> rows, Map<String, NodeStore.Allocation> allocations) {
    }

    private Uni<NodeRows> nodeRows(String pool, String name) {
        StringBuilder where = new StringBuilder("1 = 1");
        Parameters params = new Parameters();
        if (pool != null) {
            where.append(" and pool = :pool");
            params.and("pool", pool);
        }
        if (name != null) {
            where.append(" and name = :name");
            params.and("name", name);
        }
        // One session, used by one query at a time: a reactive session must not be shared by concurrent operations.
        return Panache.withSession(() -> NodeEntity.<NodeEntity>find(where.toString(), Sort.by("pool").and("name"), params).list())
                .flatMap(rows -> nodes.allocations().map(allocations -> new NodeRows(rows, allocations)));
    }

    public Uni<List<NodeView>> nodes(String pool, String name) {
        return nodeRows(pool, name).map(r -> r.rows().stream().map(n -> node(n, r.allocations().get(n.name))).toList());
    }

    public Uni<List<PoolView>> pools() {
        return Panache.withSession(() -> PoolEntity.<PoolEntity>listAll(Sort.by("name")))
                .flatMap(pools -> nodeRows(null, null).map(rows -> {
                    List<PoolView> out = new ArrayList<>();
                    for (PoolEntity p : pools) {
                        Resources capacity = Resources.ZERO;
                        Resources allocated = Resources.ZERO;
                        int ready = 0;
                        int running = 0;
                        for (NodeEntity n : rows.rows()) {
                            if (!n.pool.equals(p.name)) continue;
                            NodeStore.Allocation a = rows.allocations().get(n.name);
                            if (a != null) {
                                running += a.tasks();
                                allocated = allocated.plus(a.resources());
                            }
                            if (n.state.connected()) {
                                ready++;
                                capacity = capacity.plus(new Resources(n.cpuMillis, n.memoryMib, n.gpus));
                            }
                        }
                        out.add(new PoolView(p.name, p.kind, ready, capacity, allocated, running));
                    }
                    return out;
                }));
    }

    private static NodeView node(NodeEntity n, NodeStore.Allocation a) {
        return new NodeView(n.name, n.nodeId, n.pool, n.state, new Resources(n.cpuMillis, n.memoryMib, n.gpus),
                a == null ? Resources.ZERO : a.resources(), a == null ? 0 : a.tasks(), n.labels == null ? Map.of() : n.labels,
                n.lastSeenAt, n.agentVersion);
    }
}
