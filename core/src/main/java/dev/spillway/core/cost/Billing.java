package dev.spillway.core.cost;

import java.time.Duration;
import java.time.Instant;

/**
 * How a provider bills an instance's time: per second, at least {@code minimum} (60 s for EC2
 * Linux instances and Azure VMs).
 */
public record Billing(Duration minimum) {

    /** EC2 Linux and Azure VMs: per second, at least a minute. */
    public static final Billing PER_SECOND_MINUTE_MINIMUM = new Billing(Duration.ofSeconds(60));

    public Billing {
        if (minimum == null || minimum.isNegative()) throw new IllegalArgumentException("a billing minimum is a duration of 0 or more");
    }

    /** Whole seconds billed for an instance that ran from {@code launched} to {@code ended}: started seconds count, and at least the minimum. */
    public long billedSeconds(Instant launched, Instant ended) {
        if (ended.isBefore(launched)) throw new IllegalArgumentException("an instance cannot end (" + ended + ") before it was launched (" + launched + ")");
        Duration ran = Duration.between(launched, ended);
        long seconds = ran.getSeconds() + (ran.getNano() > 0 ? 1 : 0);
        return Math.max(seconds, minimum.toSeconds());
    }
}
