package dev.spillway.core.scheduling;

/**
 * One decision of a plan: run {@code task} on {@code node}.
 *
 * @param score            the winning node's combined score in [0, 1]
 * @param candidatesScored how many feasible nodes were compared
 */
public record Placement(TaskRef task, String node, Resources request, double score, int candidatesScored) {

    /** Why the task went where it went, in one line. */
    public String reason() {
        return String.format(java.util.Locale.ROOT, "placed on %s (score %.2f, best of %d feasible node%s)", node, score,
                candidatesScored, candidatesScored == 1 ? "" : "s");
    }
}
