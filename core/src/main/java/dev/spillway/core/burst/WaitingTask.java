package dev.spillway.core.burst;

import java.time.Instant;

/**
 * A task the scheduler could not place at its last cycle.
 *
 * @param demand         what it needs and where it may go
 * @param queuedAt       when it (re-)entered the queue
 * @param waitingCanHelp false when no on-prem node could ever take it (every veto static): it may burst at once;
 *                       true when on-prem is only busy: it may burst after its pool's {@code burstAfter}
 */
public record WaitingTask(Demand demand, Instant queuedAt, boolean waitingCanHelp) {
}
