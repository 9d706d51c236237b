package dev.spillway.core.cost;

import java.time.Instant;

/**
 * What one cloud instance costs: its billed seconds × the hourly price captured when it was
 * launched, in millionths of a US dollar (half a millionth rounds up). For an instance still
 * running, {@code ended} is the time of the reading and the charge is what it has cost so far.
 */
public record InstanceCharge(String instance, String pool, Instant launched, Instant ended, double usdPerHour, long billedSeconds,
                             long microUsd) {

    public InstanceCharge {
        if (!(usdPerHour >= 0) || Double.isInfinite(usdPerHour)) throw new IllegalArgumentException("instance " + instance + ": price " + usdPerHour);
    }

    public static InstanceCharge of(String instance, String pool, Instant launched, Instant ended, double usdPerHour, Billing billing) {
        long seconds = billing.billedSeconds(launched, ended);
        return new InstanceCharge(instance, pool, launched, ended, usdPerHour, seconds, Math.round(seconds * usdPerHour * 1_000_000 / 3600));
    }

    /** The end of the billed time: launch plus the billed seconds (later than {@code ended} under the minimum). */
    public Instant billedUntil() {
        return launched.plusSeconds(billedSeconds);
    }
}
