package dev.spillway.broker.retention;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * How long each kind of row is kept, and so, at a given time, before when a row of that kind may go. A window of zero
 * (or less) keeps that kind for ever. Pure: the sweeper asks it for cutoffs and acts on them.
 */
public record RetentionPolicy(Map<Kind, Duration> windows) {

    /** What retention deletes; {@link #metricTag()} is the {@code kind} of {@code spillway_retention_deleted_total}. */
    public enum Kind {
        /** Finished jobs with their tasks, task events and labels. */
        JOBS("jobs"),
        /** Join tokens spent, or expired unspent. */
        JOIN_TOKENS("join_tokens"),
        /** Records of terminated or failed cloud instances (their costs are kept). */
        INSTANCES("instances"),
        /** Audit events. */
        AUDIT_EVENTS("audit_events");

        private final String metricTag;

        Kind(String metricTag) {
            this.metricTag = metricTag;
        }

        public String metricTag() {
            return metricTag;
        }
    }

    public RetentionPolicy {
        windows = Map.copyOf(windows);
    }

    public static RetentionPolicy of(Duration jobs, Duration records, Duration audit) {
        Map<Kind, Duration> w = new EnumMap<>(Kind.class);
        w.put(Kind.JOBS, jobs);
        w.put(Kind.JOIN_TOKENS, records);
        w.put(Kind.INSTANCES, records);
        w.put(Kind.AUDIT_EVENTS, audit);
        return new RetentionPolicy(w);
    }

    /** Rows of this kind that ended before the answer may be deleted at {@code now}; empty: keep them all. */
    public Optional<Instant> cutoff(Kind kind, Instant now) {
        Duration window = windows.get(kind);
        if (window == null || window.isZero() || window.isNegative()) return Optional.empty();
        return Optional.of(now.minus(window));
    }
}
