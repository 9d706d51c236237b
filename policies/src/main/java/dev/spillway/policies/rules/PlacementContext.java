package dev.spillway.policies.rules;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.TaskShape;
import java.time.Instant;
import java.util.Map;
import java.util.function.Function;

/**
 * What one scheduling cycle tells placement rules beyond the task shape and the node.
 *
 * <p>The scheduler groups tasks by {@link TaskShape} equality, so {@code jobs} is asked once per
 * shape: rules that look at {@code job} see the facts of the job the shape stands for. Two jobs
 * whose shapes are equal but whose facts differ (tenant, labels) would share one answer; the
 * broker keeps their shapes apart (their jurisdictions or node selectors) when that matters.
 *
 * @param now     the cycle's time ({@code now} in CEL)
 * @param jobs    the job a shape belongs to; never null
 * @param tenants tenant facts by tenant name; may return null for a tenant with no facts
 * @param pools   pool facts by pool name; a missing pool gives empty strings and price 0
 * @param cloud   the offering a cloud node was bought as, for the burst rules (a task that may not
 *                burst onto an offering may not run on a node bought as one either); null for a
 *                node that is not a cloud instance
 */
public record PlacementContext(Instant now, Function<TaskShape, JobFacts> jobs, Function<String, TenantFacts> tenants,
                               Map<String, PoolFacts> pools, Function<NodeView, Offering> cloud) {

    public PlacementContext {
        pools = Map.copyOf(pools);
        java.util.Objects.requireNonNull(cloud, "cloud");
    }

    /** A cycle with no cloud nodes. */
    public PlacementContext(Instant now, Function<TaskShape, JobFacts> jobs, Function<String, TenantFacts> tenants, Map<String, PoolFacts> pools) {
        this(now, jobs, tenants, pools, node -> null);
    }
}
