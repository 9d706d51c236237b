package dev.spillway.core.task;

import java.time.Duration;

/**
 * How a job treats failed attempts: up to {@code maxRetries} extra attempts, waiting
 * {@code initialBackoff × 2^(failures-1)} (capped at {@code maxBackoff}) before each.
 */
public record RetryPolicy(int maxRetries, Duration initialBackoff, Duration maxBackoff) {

    public static final RetryPolicy NONE = new RetryPolicy(0, Duration.ofSeconds(1), Duration.ofMinutes(5));

    /** Delay before the attempt that follows the {@code failures}-th failure (failures ≥ 1). */
    public Duration backoffAfter(int failures) {
        int doublings = Math.min(Math.max(failures - 1, 0), 30);
        long millis = initialBackoff.toMillis() << doublings;
        if (millis < 0 || millis > maxBackoff.toMillis()) millis = maxBackoff.toMillis();
        return Duration.ofMillis(millis);
    }
}
