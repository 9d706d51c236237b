package dev.spillway.broker.cluster;

import dev.spillway.broker.store.NodeEntity;
import dev.spillway.core.scheduling.Resources;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The distinct kinds of node each pool has registered (size and labels), for admission's "could any node ever run
 * this?" check. Every registered node counts, connected or not: one that is away may come back. Cached, because
 * every submission asks; read again after a node registers (the only time a node's size or labels change).
 */
@ApplicationScoped
public class NodeShapes {

    /** A kind of node: its pool, its capacity and every label it carries (those its join token fixed included). */
    public record Shape(String pool, Resources capacity, Map<String, String> labels) {
        public Shape {
            labels = Map.copyOf(labels);
        }
    }

    private final AtomicLong generation = new AtomicLong();
    private volatile List<Shape> cached;

    public Uni<List<Shape>> all() {
        List<Shape> c = cached;
        if (c != null) return Uni.createFrom().item(c);
        long readAt = generation.get();
        return Panache.withSession(() -> NodeEntity.<NodeEntity>listAll()).map(rows -> {
            Set<Shape> distinct = new LinkedHashSet<>();
            for (NodeEntity n : rows) {
                distinct.add(new Shape(n.pool, new Resources(n.cpuMillis, n.memoryMib, n.gpus), n.labels == null ? Map.of() : n.labels));
            }
            List<Shape> shapes = List.copyOf(distinct);
            // A registration while this read ran may be missing from it: keep it only if none happened.
            if (generation.get() == readAt) cached = shapes;
            return shapes;
        });
    }

    /** A node registered (perhaps with a new size or new labels): read again on next use. */
    public void invalidate() {
        generation.incrementAndGet();
        cached = null;
    }
}
