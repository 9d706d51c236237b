package dev.spillway.broker.admission;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.cluster.NodeShapes;
import dev.spillway.broker.errors.Violation;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.core.scheduling.Resources;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;

/**
 * Refuses a task no registered node could ever hold (in the pools it allows). With no nodes
 * registered at all there is nothing to judge by, and the job waits for capacity.
 */
@ApplicationScoped
public class NodeFitCheck implements AdmissionCheck {

    private final NodeShapes shapes;

    public NodeFitCheck(NodeShapes shapes) {
        this.shapes = shapes;
    }

    @Override
    public String name() {
        return "node-fit";
    }

    @Override
    public Uni<List<Violation>> check(JobSpec spec) {
        Resources need = JobCatalog.shapeOf(spec).request();
        List<String> allowed = spec.getTask().getPoolsList();
        return shapes.all().map(all -> {
            List<NodeStore.Shape> candidates = all.stream().filter(n -> allowed.isEmpty() || allowed.contains(n.pool())).toList();
            if (all.isEmpty() || candidates.stream().anyMatch(n -> n.capacity().covers(need))) return List.of();
            StringBuilder largest = new StringBuilder();
            candidates.stream().map(n -> n.pool() + ": " + n.capacity()).distinct().limit(5)
                    .forEach(s -> largest.append(largest.length() == 0 ? "" : "; ").append(s));
            String where = allowed.isEmpty() ? "no pool" : "no node in pools " + allowed;
            return List.of(new Violation("spec.task.resources",
                    where + " offers " + need + " on one node" + (largest.length() > 0 ? " (nodes offer " + largest + ")" : "")));
        });
    }
}
