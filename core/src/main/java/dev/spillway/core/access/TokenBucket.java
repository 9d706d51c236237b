package dev.spillway.core.access;

/**
 * A token bucket: holds up to {@code burst} tokens, refilled at {@code ratePerSecond}; a request
 * costing {@code n} tokens passes when the bucket holds them. Time is passed in (nanoseconds from
 * any fixed origin), so the bucket does no I/O and tests drive it exactly. Not thread-safe.
 */
public final class TokenBucket {

    private final double ratePerNano;
    private final double burst;
    private double tokens;
    private long last;

    public TokenBucket(double ratePerSecond, double burst, long nowNanos) {
        if (ratePerSecond <= 0 || burst < 1) throw new IllegalArgumentException("a bucket needs a positive rate and a burst of at least 1");
        this.ratePerNano = ratePerSecond / 1e9;
        this.burst = burst;
        this.tokens = burst;
        this.last = nowNanos;
    }

    /** Takes {@code cost} tokens if there are enough; returns 0 when taken, or how many nanoseconds until they would be. */
    public long take(double cost, long nowNanos) {
        refill(nowNanos);
        double needed = Math.min(cost, burst);
        if (tokens >= needed) {
            tokens -= needed;
            return 0;
        }
        return (long) Math.ceil((needed - tokens) / ratePerNano);
    }

    private void refill(long nowNanos) {
        if (nowNanos > last) {
            tokens = Math.min(burst, tokens + (nowNanos - last) * ratePerNano);
            last = nowNanos;
        }
    }
}
