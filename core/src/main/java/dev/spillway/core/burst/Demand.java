package dev.spillway.core.burst;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.util.Set;

/**
 * A task the on-prem pools cannot serve, as the burst planner sees it.
 *
 * @param jurisdictions where the task may run (e.g. {@code EU}); empty means anywhere
 * @param spotTolerant  whether the task may run on interruptible (spot) capacity
 */
public record Demand(TaskRef task, Resources request, Set<String> jurisdictions, boolean spotTolerant) {

    public Demand {
        jurisdictions = Set.copyOf(jurisdictions);
    }

    boolean mayUse(Offering o) {
        return o.shape().covers(request) && (jurisdictions.isEmpty() || jurisdictions.contains(o.jurisdiction()))
                && (spotTolerant || !o.spot());
    }
}
