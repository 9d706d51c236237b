package dev.spillway.core.scheduling;

import java.util.List;

/**
 * The output of one scheduling cycle: placements to commit, and the tasks left waiting with why.
 * Every queued task of the snapshot appears in exactly one of the two lists.
 */
public record Plan(List<Placement> placements, List<Unplaced> unplaced) {

    public record Unplaced(PendingTask task, Explanation why) {
    }

    public Plan {
        placements = List.copyOf(placements);
        unplaced = List.copyOf(unplaced);
    }
}
