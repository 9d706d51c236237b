package dev.spillway.core.burst;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.util.Set;

/**
 * A task the on-prem pools cannot serve, as the burst planner sees it.
 *
 * @param jurisdictions where the task may run (e.g. {@code EU}); empty means anywhere
 * @param spotTolerant  whether the task may run on interruptible (spot) capacity
 * @param pools         the pools the task may run in; empty means any
 */
public record Demand(TaskRef task, Resources request, Set<String> jurisdictions, boolean spotTolerant, Set<String> pools) {

    public Demand {
        jurisdictions = Set.copyOf(jurisdictions);
        pools = Set.copyOf(pools);
    }

    /** A task that may use any pool. */
    public Demand(TaskRef task, Resources request, Set<String> jurisdictions, boolean spotTolerant) {
        this(task, request, jurisdictions, spotTolerant, Set.of());
    }

    /** Tasks with equal keys are interchangeable to the planner. */
    Object classKey() {
        return java.util.List.of(request, jurisdictions, spotTolerant, pools);
    }

    /** Whether an instance of {@code o} could hold this task (size aside from what else it holds). */
    public boolean mayUse(Offering o) {
        return o.shape().covers(request) && mayRunIn(o.pool(), o.jurisdiction(), o.spot());
    }

    /** Whether the task's placement rules allow capacity of this pool, jurisdiction and kind. */
    public boolean mayRunIn(String pool, String jurisdiction, boolean spot) {
        return (pools.isEmpty() || pools.contains(pool)) && (jurisdictions.isEmpty() || jurisdictions.contains(jurisdiction))
                && (spotTolerant || !spot);
    }
}
