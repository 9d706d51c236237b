package dev.spillway.broker.cluster;

import dev.spillway.api.v1.Node;
import dev.spillway.api.v1.NodeState;
import dev.spillway.api.v1.Pool;
import dev.spillway.broker.grpc.ProtoMapping;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.core.scheduling.Resources;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.panache.common.Parameters;
import io.quarkus.panache.common.Sort;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Pools and nodes as clients see them (gRPC and REST share it): the rows through Hibernate
 * Reactive, what tasks hold on each node from one aggregate query.
 */
@ApplicationScoped
public class ClusterView {

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

    public Uni<List<Node>> nodes(String pool, String name) {
        return nodeRows(pool, name).map(r -> r.rows().stream().map(n -> node(n, r.allocations().get(n.name))).toList());
    }

    public Uni<List<Pool>> pools() {
        return Panache.withSession(() -> PoolEntity.<PoolEntity>listAll(Sort.by("name")))
                .flatMap(pools -> nodeRows(null, null).map(rows -> io.smallrye.mutiny.tuples.Tuple2.of(pools, rows)))
                .map(t -> {
            List<Pool> out = new ArrayList<>();
            for (PoolEntity p : t.getItem1()) {
                Resources capacity = Resources.ZERO;
                Resources allocated = Resources.ZERO;
                int ready = 0;
                int running = 0;
                for (NodeEntity n : t.getItem2().rows()) {
                    if (!n.pool.equals(p.name)) continue;
                    NodeStore.Allocation a = t.getItem2().allocations().get(n.name);
                    if (a != null) {
                        running += a.tasks();
                        allocated = allocated.plus(a.resources());
                    }
                    if (n.state.equals("READY") || n.state.equals("DRAINING")) {
                        ready++;
                        capacity = capacity.plus(new Resources(n.cpuMillis, n.memoryMib, n.gpus));
                    }
                }
                out.add(Pool.newBuilder().setName(p.name).setKind(p.kind).setReadyNodes(ready)
                        .setCapacity(ProtoMapping.resources(capacity)).setAllocated(ProtoMapping.resources(allocated))
                        .setRunningTasks(running).build());
            }
            return out;
        });
    }

    private static Node node(NodeEntity n, NodeStore.Allocation a) {
        Resources allocated = a == null ? Resources.ZERO : a.resources();
        return Node.newBuilder()
                .setName(n.name)
                .setNodeId(n.nodeId.toString())
                .setPool(n.pool)
                .setState(NodeState.valueOf("NODE_STATE_" + n.state))
                .setCapacity(ProtoMapping.resources(new Resources(n.cpuMillis, n.memoryMib, n.gpus)))
                .setAllocated(ProtoMapping.resources(allocated))
                .putAllLabels(n.labels == null ? Map.of() : n.labels)
                .setLastSeenTime(ProtoMapping.timestamp(n.lastSeenAt))
                .setRunningTasks(a == null ? 0 : a.tasks())
                .setAgentVersion(n.agentVersion)
                .build();
    }
}
