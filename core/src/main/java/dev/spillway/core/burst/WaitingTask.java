package dev.spillway.core.burst;

import java.time.Duration;
import java.time.Instant;

/**
 * A task the scheduler could not place at its last cycle.
 *
 * @param demand         what it needs and where it may go
 * @param queuedAt       when it (re-)entered the queue
 * @param waitingCanHelp false when no on-prem node could ever take it (every veto static): it may burst at once;
 *                       true when on-prem is only busy: it may burst after its pool's {@code burstAfter}
 * @param burstAfter     how long it must wait before bursting when waiting could help, set by a policy for its
 *                       job; null leaves each pool's own
 */
public record WaitingTask(Demand demand, Instant queuedAt, boolean waitingCanHelp, Duration burstAfter) {

    public WaitingTask(Demand demand, Instant queuedAt, boolean waitingCanHelp) {
        this(demand, queuedAt, waitingCanHelp, null);
    }

    public WaitingTask withDemand(Demand narrowed) {
        return new WaitingTask(narrowed, queuedAt, waitingCanHelp, burstAfter);
    }

    /** How long it must wait before bursting into {@code pool}, whose own setting is {@code poolBurstAfter}. */
    public Duration burstAfter(Duration poolBurstAfter) {
        return burstAfter != null ? burstAfter : poolBurstAfter;
    }
}
