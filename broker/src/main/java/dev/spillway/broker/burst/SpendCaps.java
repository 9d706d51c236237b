package dev.spillway.broker.burst;

/**
 * Tenants bursting buys nothing for, because of what they may spend (their budgets, kept in the cost package); the burst
 * controller asks each tick.
 */
public interface SpendCaps {

    /** Whether any tenant is refused bursting now (so that a tick without any reads nothing more). */
    boolean anySpent();

    /** Why bursting buys nothing for {@code tenant}'s waiting tasks, or null when it may. */
    String burstRefusal(String tenant);
}
