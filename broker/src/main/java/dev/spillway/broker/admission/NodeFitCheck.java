package dev.spillway.broker.admission;

import dev.spillway.api.v1.ErrorReason;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.burst.CloudPool;
import dev.spillway.broker.burst.CloudPools;
import dev.spillway.broker.cluster.NodeShapes;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.Violation;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.TaskShape;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Refuses a task that no registered node and no configured cloud pool could ever run: its pools, jurisdictions, node
 * selector, spot tolerance and resources are met together by no single node or instance kind (see {@link Feasibility},
 * which says which rule leaves nothing). With no node registered and no cloud pool there is nothing to judge by, and
 * the job waits for capacity. A node that will join later with what the task needs is not known yet: such a task is
 * refused until the node has registered once.
 */
@ApplicationScoped
public class NodeFitCheck implements AdmissionCheck {

    /** Labels every cloud instance's join token fixes (see {@code burst.Launches}): the agent on the instance declares none. */
    static final String INSTANCE_TYPE_LABEL = dev.spillway.core.burst.Offering.INSTANCE_TYPE_LABEL;
    static final String ZONE_LABEL = dev.spillway.core.burst.Offering.ZONE_LABEL;

    private final NodeShapes shapes;
    private final CloudPools cloud;

    public NodeFitCheck(NodeShapes shapes, CloudPools cloud) {
        this.shapes = shapes;
        this.cloud = cloud;
    }

    @Override
    public String name() {
        return "node-fit";
    }

    @Override
    public Uni<Optional<InvalidRequest>> check(JobSpec spec) {
        TaskShape task = JobCatalog.shapeOf(spec);
        return shapes.all().map(nodes -> {
            List<Feasibility.Place> places = new ArrayList<>();
            nodes.forEach(n -> places.add(Feasibility.Place.node(n.pool(), n.capacity(), n.labels())));
            cloud.all().values().forEach(p -> places.addAll(cloudPlaces(p)));
            List<Violation> unsatisfiable = Feasibility.check(task, places);
            return unsatisfiable.isEmpty() ? Optional.empty()
                    : Optional.of(new InvalidRequest(ErrorReason.ERROR_REASON_RESOURCES_UNSATISFIABLE, Map.of(), unsatisfiable));
        });
    }

    /**
     * What a cloud pool's instances will be, as nodes: per offering it may launch (its instance types, spot only when
     * the pool allows it: {@link CloudPool#offerings()} already leaves out what it may not buy) the labels its join
     * token will fix and the instance type's shape. Before its offerings are read (or when they cannot be), one place
     * with the instance type, zone and, if the pool allows spot, spot-ness left open, and any size.
     */
    static List<Feasibility.Place> cloudPlaces(CloudPool pool) {
        if (pool.settings().maxNodes() <= 0) return List.of();
        Map<String, String> common = new HashMap<>();
        common.put(Scorers.CLOUD_LABEL, "true");
        if (pool.jurisdiction() != null && !pool.jurisdiction().isBlank()) common.put(TaskShape.JURISDICTION_LABEL, pool.jurisdiction());
        Set<String> types = new HashSet<>(pool.settings().instanceTypes().orElse(List.of()));
        List<Feasibility.Place> out = new ArrayList<>();
        for (Offering o : pool.offerings()) {
            if (!types.isEmpty() && !types.contains(o.instanceType())) continue;
            Map<String, String> labels = new HashMap<>(common);
            labels.put(TaskShape.SPOT_LABEL, Boolean.toString(o.spot()));
            labels.put(INSTANCE_TYPE_LABEL, o.instanceType());
            labels.put(ZONE_LABEL, o.zone());
            out.add(new Feasibility.Place(true, pool.name(), o.shape(), labels, Set.of()));
        }
        if (!pool.offerings().isEmpty()) return out;
        Map<String, String> labels = new HashMap<>(common);
        Set<String> open = new HashSet<>(Set.of(INSTANCE_TYPE_LABEL, ZONE_LABEL));
        if (pool.settings().spot()) open.add(TaskShape.SPOT_LABEL);
        else labels.put(TaskShape.SPOT_LABEL, "false");
        return List.of(new Feasibility.Place(true, pool.name(), null, labels, open));
    }
}
