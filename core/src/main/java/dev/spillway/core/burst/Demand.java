package dev.spillway.core.burst;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.util.Map;
import java.util.Set;

/**
 * A task the on-prem pools cannot serve, as the burst planner sees it.
 *
 * @param jurisdictions where the task may run (e.g. {@code EU}); empty means anywhere
 * @param spotTolerant  whether the task may run on interruptible (spot) capacity
 * @param pools         the pools the task may run in; empty means any
 * @param refused       offerings the policies in force refuse the task, by offering id, with the
 *                      rule and its reason ({@code policy/rule: reason}); tasks of one job share one map
 */
public record Demand(TaskRef task, Resources request, Set<String> jurisdictions, boolean spotTolerant, Set<String> pools,
                     Map<String, String> refused) {

    public Demand {
        jurisdictions = Set.copyOf(jurisdictions);
        pools = Set.copyOf(pools);
        refused = Map.copyOf(refused);
    }

    public Demand(TaskRef task, Resources request, Set<String> jurisdictions, boolean spotTolerant, Set<String> pools) {
        this(task, request, jurisdictions, spotTolerant, pools, Map.of());
    }

    /** A task that may use any pool. */
    public Demand(TaskRef task, Resources request, Set<String> jurisdictions, boolean spotTolerant) {
        this(task, request, jurisdictions, spotTolerant, Set.of());
    }

    /** This task, limited to {@code narrowed} pools. */
    public Demand withPools(Set<String> narrowed) {
        return new Demand(task, request, jurisdictions, spotTolerant, narrowed, refused);
    }

    /** Tasks with equal keys are interchangeable to the planner. */
    Object classKey() {
        return java.util.List.of(request, jurisdictions, spotTolerant, pools, refused);
    }

    /** Whether an instance of {@code o} could hold this task (size aside from what else it holds). */
    public boolean mayUse(Offering o) {
        return o.shape().covers(request) && mayRunIn(o.pool(), o.jurisdiction(), o.spot()) && !refused.containsKey(o.id());
    }

    /** Whether the task's placement rules allow capacity of this pool, jurisdiction and kind (policies' refusals aside). */
    public boolean mayRunIn(String pool, String jurisdiction, boolean spot) {
        return (pools.isEmpty() || pools.contains(pool)) && (jurisdictions.isEmpty() || jurisdictions.contains(jurisdiction))
                && (spotTolerant || !spot);
    }

    /** Whether the task may go on an instance of this pool, kind and offering (an instance on its way, or running). */
    public boolean mayRunOn(String pool, String jurisdiction, boolean spot, String offeringId) {
        return mayRunIn(pool, jurisdiction, spot) && !refused.containsKey(offeringId);
    }
}
