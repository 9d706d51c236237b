package dev.spillway.core.scheduling;

import java.util.List;

/**
 * The immutable input of one scheduling cycle.
 *
 * @param nodes every known node, schedulable or not (unschedulable ones still count in explanations)
 * @param tasks tasks waiting for placement, in any order
 */
public record Snapshot(List<NodeView> nodes, List<PendingTask> tasks) {

    public Snapshot {
        nodes = List.copyOf(nodes);
        tasks = List.copyOf(tasks);
    }
}
