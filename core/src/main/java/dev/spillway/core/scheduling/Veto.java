package dev.spillway.core.scheduling;

/**
 * Why a filter refused a node for a task.
 *
 * @param filter the filter's name
 * @param kind   whether waiting can help
 * @param reason short, stable, human-readable reason (e.g. {@code "insufficient free cpu"});
 *               counts in explanations are grouped by it
 */
public record Veto(String filter, Kind kind, String reason) {

    public enum Kind {
        /** The task can never run on this node as things are configured (labels, pool, size). */
        STATIC,
        /** The node is busy right now; waiting may help. */
        TRANSIENT
    }

    public static Veto fixed(String filter, String reason) {
        return new Veto(filter, Kind.STATIC, reason);
    }

    public static Veto transientVeto(String filter, String reason) {
        return new Veto(filter, Kind.TRANSIENT, reason);
    }
}
