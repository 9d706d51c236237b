package dev.spillway.core.task;

import java.time.Duration;

/**
 * How a job treats failed attempts: up to {@code maxRetries} extra attempts, waiting
 * {@code initialBackoff × 2^(failures-1)} (capped at {@code maxBackoff}) before each.
 */
public record RetryPolicy(int maxRetries, Duration initialBackoff, Duration maxBackoff) {

    public static final RetryPolicy NONE = new RetryPolicy(0, Duration.ofSeconds(1), Duration.ofMinutes(5));

    /**
     * Delay before the attempt that follows the {@code failures}-th failure (failures ≥ 1; less counts as 1), exactly
     * {@code min(initialBackoff × 2^(failures-1), maxBackoff)} in whole milliseconds for any count: the doubling is
     * compared against the cap before it is done, so it cannot overflow. Negative durations count as 0, durations
     * beyond {@code Long.MAX_VALUE} ms as that.
     */
    public Duration backoffAfter(int failures) {
        long initial = millis(initialBackoff);
        long cap = millis(maxBackoff);
        int doublings = failures <= 1 ? 0 : failures - 1;
        long delay;
        if (initial == 0) delay = 0;
        else if (doublings >= Long.SIZE - 1 || initial > cap >> doublings) delay = cap;
        else delay = initial << doublings;
        return Duration.ofMillis(delay);
    }

    private static long millis(Duration d) {
        if (d.isNegative()) return 0;
        try {
            return d.toMillis();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE;
        }
    }
}
