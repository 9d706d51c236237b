package dev.spillway.core.leader;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The leader lease: one row in the database, changed only by the three rules below, each judged at
 * the database's time (the one clock every broker agrees on). The broker's {@code LeaderStore}
 * runs the same rules as single SQL statements; this is the model they follow, pure, so that its
 * properties can be checked (see the core's LeaderLeasePropertiesTest).
 *
 * <ul>
 *   <li>{@link #take}: anyone once the lease has expired (or was released), and its own holder at any
 *       time (a broker that stepped down when it could not renew in time takes it back at once if
 *       nobody else has); the epoch grows by one;</li>
 *   <li>{@link #renew}: only the holder of this very epoch, at any time (an unchanged epoch proves
 *       nobody took over meanwhile), pushing the expiry to now + ttl;</li>
 *   <li>{@link #release}: only the holder of this epoch; the lease expires at once.</li>
 * </ul>
 *
 * <p>The epoch is the fencing token: a write only the leader may do is refused by the database
 * unless it carries the current epoch. Whether a broker may act as leader right now is the other
 * half, on its own monotonic clock: {@link #believedUntil}.
 *
 * @param epoch     grows by one at every takeover; 0 before the first
 * @param holder    the broker holding it, null before the first takeover
 * @param expiresAt database time (microseconds) at which it expires; {@link Long#MIN_VALUE} when released
 */
public record LeaderLease(long epoch, String holder, long expiresAt) {

    /** The row before any broker ever took it. */
    public static final LeaderLease VACANT = new LeaderLease(0, null, Long.MIN_VALUE);

    public LeaderLease {
        if (epoch < 0) throw new IllegalArgumentException("epoch must not be negative");
    }

    /** Whether the lease has expired at database time {@code now}: a takeover may happen. */
    public boolean expired(long now) {
        return expiresAt < now;
    }

    /** Who holds the lease at database time {@code now}, if anyone. */
    public Optional<String> holderAt(long now) {
        return expired(now) ? Optional.empty() : Optional.ofNullable(holder);
    }

    /** A takeover by {@code candidate} at database time {@code now}; empty while another broker holds the lease. */
    public Optional<LeaderLease> take(String candidate, long now, Duration ttl) {
        Objects.requireNonNull(candidate, "candidate");
        if (!expired(now) && !candidate.equals(holder)) return Optional.empty();
        return Optional.of(new LeaderLease(epoch + 1, candidate, now + micros(ttl)));
    }

    /** The holder of {@code heldEpoch} extends its lease to {@code now + ttl}; empty if the lease is no longer its own. */
    public Optional<LeaderLease> renew(String candidate, long heldEpoch, long now, Duration ttl) {
        if (!ownedBy(candidate, heldEpoch)) return Optional.empty();
        return Optional.of(new LeaderLease(epoch, holder, Math.max(expiresAt, now + micros(ttl))));
    }

    /** The holder of {@code heldEpoch} gives the lease up: it expires at once, so a follower takes over at its next try. */
    public Optional<LeaderLease> release(String candidate, long heldEpoch) {
        if (!ownedBy(candidate, heldEpoch)) return Optional.empty();
        return Optional.of(new LeaderLease(epoch, holder, Long.MIN_VALUE));
    }

    /** Whether a write fenced with {@code writerEpoch} is let through. */
    public boolean admits(long writerEpoch) {
        return writerEpoch == epoch;
    }

    private boolean ownedBy(String candidate, long heldEpoch) {
        return heldEpoch == epoch && Objects.equals(holder, candidate);
    }

    private static long micros(Duration d) {
        return d.toNanos() / 1000;
    }

    /**
     * Until when a broker may act as leader after the database granted it the lease, on its own
     * monotonic clock. The grant set the expiry to (database time when the statement ran) + ttl, and
     * the statement ran after the broker sent it, so the lease lasts at least ttl past
     * {@code sentNanos} in real time. The broker's clock may run fast or slow by up to
     * {@code maxDrift} (a rate, such as 0.01 for 1 %), and it needs {@code margin} to stop what it is
     * doing: it believes in its lease until {@code sentNanos + ttl × (1 − maxDrift) − margin}.
     * Monotonic readings are compared by subtraction only.
     */
    public static long believedUntil(long sentNanos, Duration ttl, double maxDrift, Duration margin) {
        if (maxDrift < 0 || maxDrift >= 1) throw new IllegalArgumentException("maxDrift must be in [0, 1)");
        long usable = (long) (ttl.toNanos() * (1 - maxDrift)) - margin.toNanos();
        return sentNanos + Math.max(0, usable);
    }

    /** Whether monotonic reading {@code now} is before {@code until} (readings compared by subtraction: they may wrap). */
    public static boolean before(long now, long until) {
        return until - now > 0;
    }
}
