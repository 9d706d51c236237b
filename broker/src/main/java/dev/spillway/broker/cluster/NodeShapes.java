package dev.spillway.broker.cluster;

import dev.spillway.core.scheduling.Resources;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;

/**
 * The distinct node sizes each pool has registered, for admission's "could any node ever run
 * this?" check. Cached, because every submission asks; refreshed when a node registers.
 */
@ApplicationScoped
public class NodeShapes {

    public record Shape(String pool, Resources capacity) {
    }

    private final Pool pool;
    private volatile List<Shape> cached;

    public NodeShapes(Pool pool) {
        this.pool = pool;
    }

    public Uni<List<Shape>> all() {
        List<Shape> c = cached;
        if (c != null) return Uni.createFrom().item(c);
        return pool.query("SELECT DISTINCT pool, cpu_millis, memory_mib, gpus FROM node").execute().map(rows -> {
            List<Shape> out = new ArrayList<>();
            for (Row r : rows) {
                out.add(new Shape(r.getString("pool"), new Resources(r.getLong("cpu_millis"), r.getLong("memory_mib"), r.getInteger("gpus"))));
            }
            cached = List.copyOf(out);
            return cached;
        });
    }

    /** A node registered (perhaps with a new size): read again on next use. */
    public void invalidate() {
        cached = null;
    }
}
