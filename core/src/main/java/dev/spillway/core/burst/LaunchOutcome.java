package dev.spillway.core.burst;

import java.time.Instant;

/**
 * How one earlier launch ended up, for the decisions that learn from failures (hiding offerings,
 * resting pools). The broker derives these from its instance records, so they survive restarts.
 *
 * @param offeringId {@link Offering#id()} of what was launched
 * @param at         when the outcome was known (the join, the join deadline, the launch error)
 */
public record LaunchOutcome(String pool, String offeringId, Instant at, Kind kind, String message) {

    public enum Kind {
        /** Its agent joined: the offering and the pool's network work. */
        JOINED,
        /** Launched, but its agent never joined within the join timeout. */
        NEVER_JOINED,
        /** The provider had no capacity (or quota) for the offering. */
        NO_CAPACITY,
        /** The launch failed on credentials or pool settings: retrying cannot help until someone fixes them. */
        SETUP_ERROR
    }
}
