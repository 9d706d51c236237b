package dev.spillway.core.scheduling;

import java.util.Map;
import java.util.Set;

/**
 * Everything about a task that decides where it can go. Tasks of one job array share one shape,
 * so the scheduler evaluates static constraints and remembers exhausted searches per shape,
 * not per task.
 *
 * @param request      resources one task needs
 * @param nodeSelector labels a node must carry (all of them)
 * @param pools        pools the task may run in; empty means any
 */
public record TaskShape(Resources request, Map<String, String> nodeSelector, Set<String> pools) {

    public TaskShape {
        nodeSelector = Map.copyOf(nodeSelector);
        pools = Set.copyOf(pools);
    }
}
