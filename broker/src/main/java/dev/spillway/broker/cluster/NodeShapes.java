package dev.spillway.broker.cluster;

import dev.spillway.broker.store.NodeStore;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;

/**
 * The distinct node sizes each pool has registered, for admission's "could any node ever run
 * this?" check. Cached, because every submission asks; refreshed when a node registers.
 */
@ApplicationScoped
public class NodeShapes {

    private final NodeStore nodes;
    private volatile List<NodeStore.Shape> cached;

    public NodeShapes(NodeStore nodes) {
        this.nodes = nodes;
    }

    public Uni<List<NodeStore.Shape>> all() {
        List<NodeStore.Shape> c = cached;
        if (c != null) return Uni.createFrom().item(c);
        return nodes.shapes().map(shapes -> {
            cached = List.copyOf(shapes);
            return cached;
        });
    }

    /** A node registered (perhaps with a new size): read again on next use. */
    public void invalidate() {
        cached = null;
    }
}
