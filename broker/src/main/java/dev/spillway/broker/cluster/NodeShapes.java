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
 * every submission asks; read again after a node registers with this broker (the only time a node's size or labels
 * change) and at least every 10 s (nodes register with the leader only: the other brokers learn of them so).
 */
@ApplicationScoped
public class NodeShapes {

    /** A kind of node: its pool, its capacity and every label it carries (those its join token fixed included). */
    public record Shape(String pool, Resources capacity, Map<String, String> labels) {
        public Shape {
            labels = Map.copyOf(labels);
        }
    }

    /** The longest a reading is kept: nodes register with the leader, so another broker learns of new kinds by reading again. */
    static final long KEPT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

    private record Reading(List<Shape> shapes, long atNanos) {
    }

    private final AtomicLong generation = new AtomicLong();
    private volatile Reading cached;

    public Uni<List<Shape>> all() {
        Reading c = cached;
        if (c != null && System.nanoTime() - c.atNanos() < KEPT_NANOS) return Uni.createFrom().item(c.shapes());
        long startedNanos = System.nanoTime();
        long readAt = generation.get();
        return Panache.withSession(() -> NodeEntity.<NodeEntity>listAll()).map(rows -> {
            Set<Shape> distinct = new LinkedHashSet<>();
            for (NodeEntity n : rows) {
                distinct.add(new Shape(n.pool, new Resources(n.cpuMillis, n.memoryMib, n.gpus), n.labels == null ? Map.of() : n.labels));
            }
            List<Shape> shapes = List.copyOf(distinct);
            // A registration while this read ran may be missing from it: keep it only if none happened.
            if (generation.get() == readAt) cached = new Reading(shapes, startedNanos);
            return shapes;
        });
    }

    /** A node registered (perhaps with a new size or new labels): read again on next use. */
    public void invalidate() {
        generation.incrementAndGet();
        cached = null;
    }
}
