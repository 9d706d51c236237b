package dev.spillway.broker.cluster;

import dev.spillway.api.v1.Node;
import dev.spillway.api.v1.Pool;
import dev.spillway.broker.grpc.ProtoMapping;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.core.scheduling.Resources;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;

/** Pools and nodes as clients see them (gRPC and REST share it). */
@ApplicationScoped
public class ClusterView {

    private final NodeStore nodes;

    public ClusterView(NodeStore nodes) {
        this.nodes = nodes;
    }

    public Uni<List<Node>> nodes(String pool, String name) {
        return nodes.list(pool, name).map(rows -> rows.stream().map(ProtoMapping::node).toList());
    }

    public Uni<List<Pool>> pools() {
        return Uni.combine().all().unis(nodes.pools(), nodes.list(null, null)).asTuple().map(t -> {
            List<Pool> out = new ArrayList<>();
            for (NodeStore.PoolRow p : t.getItem1()) {
                Resources capacity = Resources.ZERO;
                Resources allocated = Resources.ZERO;
                int ready = 0;
                int running = 0;
                for (NodeStore.NodeRow n : t.getItem2()) {
                    if (!n.pool().equals(p.name())) continue;
                    running += n.runningTasks();
                    allocated = allocated.plus(n.allocated());
                    if (n.state().equals("READY") || n.state().equals("DRAINING")) {
                        ready++;
                        capacity = capacity.plus(n.capacity());
                    }
                }
                out.add(Pool.newBuilder().setName(p.name()).setKind(p.kind()).setReadyNodes(ready)
                        .setCapacity(ProtoMapping.resources(capacity)).setAllocated(ProtoMapping.resources(allocated))
                        .setRunningTasks(running).build());
            }
            return out;
        });
    }
}
