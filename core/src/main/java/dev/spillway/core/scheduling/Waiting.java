package dev.spillway.core.scheduling;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The demand waiting on each pool: the tasks a scheduling cycle could not place that may run there. Pure. */
public final class Waiting {

    private Waiting() {
    }

    /** How many waiting tasks may run in a pool, and what they ask for. */
    public record Demand(int tasks, Resources requested) {
        public static final Demand NONE = new Demand(0, Resources.ZERO);
    }

    /**
     * For each of {@code pools}, the tasks of {@code unplaced} that may run there: those whose job
     * names no pools, or names that one. A task that may run in several pools counts in each.
     */
    public static Map<String, Demand> byPool(List<Plan.Unplaced> unplaced, Collection<String> pools) {
        Map<String, Demand> out = new LinkedHashMap<>();
        for (String pool : pools) {
            int tasks = 0;
            Resources requested = Resources.ZERO;
            for (Plan.Unplaced u : unplaced) {
                TaskShape shape = u.task().shape();
                if (!shape.pools().isEmpty() && !shape.pools().contains(pool)) continue;
                tasks++;
                requested = requested.plus(shape.request());
            }
            out.put(pool, tasks == 0 ? Demand.NONE : new Demand(tasks, requested));
        }
        return out;
    }
}
