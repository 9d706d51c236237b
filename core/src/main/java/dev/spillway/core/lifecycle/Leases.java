package dev.spillway.core.lifecycle;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Which nodes have outlived their lease: a pure decision on monotonic time.
 *
 * <p>Silence is measured only on a monotonic clock ({@code System.nanoTime()} readings in the
 * broker): such readings have an arbitrary origin, may be negative and may wrap around, so they
 * are only ever compared by subtraction. A step of the wall clock (NTP, an operator, a VM resumed)
 * therefore never makes a node look silent. Wall-clock instants travel along for what is stored and
 * shown ("last seen at"), never for the decision.
 *
 * <p>After a broker start the broker has heard nobody; every node the database lists as connected
 * gets a start grace ({@link #startGrace}) to reconnect, during which no node is declared lost.
 */
public final class Leases {

    private Leases() {}

    /** When a node was last heard from: a monotonic reading (nanoseconds) for the lease, the wall clock for display. */
    public record Heard(long monotonicNanos, Instant wallTime) {
        public Heard {
            Objects.requireNonNull(wallTime, "wallTime");
        }

        /** The later of the two on the monotonic clock (wall times may disagree; they do not count). */
        public Heard latest(Heard other) {
            return other.monotonicNanos - monotonicNanos > 0 ? other : this;
        }
    }

    /**
     * What the lease decision looks at.
     *
     * @param believedConnected nodes the database lists as connected (READY or DRAINING)
     * @param lastHeard         last message per node since the broker started (absent: not heard since the start)
     * @param admitting         nodes whose registration, with a verified credential, is being stored right now
     * @param startNanos        the broker's start, on the monotonic clock
     * @param grace             how long after the start no node is declared lost ({@link #startGrace})
     * @param lease             silence after which a node is lost
     * @param nowNanos          now, on the monotonic clock
     */
    public record Snapshot(Collection<String> believedConnected, Map<String, Heard> lastHeard, Set<String> admitting, long startNanos,
                           Duration grace, Duration lease, long nowNanos) {
        public Snapshot {
            believedConnected = List.copyOf(believedConnected);
            lastHeard = Map.copyOf(lastHeard);
            admitting = Set.copyOf(admitting);
            if (grace.isNegative() || lease.isNegative()) throw new IllegalArgumentException("grace and lease must not be negative");
        }
    }

    /**
     * A node declared lost.
     *
     * @param silence     how long nothing was heard from it (since the broker's start when it was not heard since)
     * @param lastHeardAt the wall-clock time it was last heard, for the log; null when not heard since the broker started
     */
    public record Lost(String node, Duration silence, Instant lastHeardAt) {
    }

    /**
     * The nodes to declare lost now, in the order of {@code believedConnected}: none during the
     * start grace; after it, every believed-connected node silent for longer than the lease
     * (silence counted from the broker's start for nodes not heard since), except those being
     * admitted. A node heard within the lease is never lost.
     */
    public static List<Lost> lost(Snapshot s) {
        long sinceStart = s.nowNanos() - s.startNanos();
        if (sinceStart < 0 || sinceStart < saturatedNanos(s.grace())) return List.of();
        long lease = saturatedNanos(s.lease());
        List<Lost> out = new ArrayList<>();
        for (String node : s.believedConnected()) {
            if (s.admitting().contains(node)) continue;
            Heard heard = s.lastHeard().get(node);
            // A reading from before the start cannot come from this broker's run; count from the start then.
            boolean heardSinceStart = heard != null && heard.monotonicNanos() - s.startNanos() >= 0;
            long silence = s.nowNanos() - (heardSinceStart ? heard.monotonicNanos() : s.startNanos());
            if (silence <= lease) continue;
            out.add(new Lost(node, Duration.ofNanos(silence), heardSinceStart ? heard.wallTime() : null));
        }
        return out;
    }

    /**
     * How long after a start no node is declared lost: one lease plus {@code perNode} for each node
     * the database lists as connected (they all reconnect at once, with jittered backoff, and
     * register one after another), at most {@code max}, never less than one lease.
     *
     * @param knownNodes nodes the database lists as connected at the start (negative counts as none)
     */
    public static Duration startGrace(Duration lease, int knownNodes, Duration perNode, Duration max) {
        if (lease.isNegative() || perNode.isNegative() || max.isNegative()) {
            throw new IllegalArgumentException("lease, per-node allowance and maximum must not be negative");
        }
        Duration grace;
        try {
            grace = lease.plus(perNode.multipliedBy(Math.max(0, knownNodes)));
        } catch (ArithmeticException tooLong) {
            grace = max;
        }
        if (grace.compareTo(max) > 0) grace = max;
        return grace.compareTo(lease) < 0 ? lease : grace;
    }

    /** A duration in nanoseconds, Long.MAX_VALUE for the ones beyond (about 292 years). */
    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE;
        }
    }
}
