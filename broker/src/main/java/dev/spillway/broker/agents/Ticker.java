package dev.spillway.broker.agents;

/**
 * A monotonic clock: readings in nanoseconds from an arbitrary origin, only ever compared by
 * subtraction ({@code System.nanoTime()} semantics). Leases are measured with it, so a step of the
 * wall clock never makes a node look silent. Tests may produce another one.
 */
@FunctionalInterface
public interface Ticker {

    /** The current reading, in nanoseconds. */
    long nanos();
}
