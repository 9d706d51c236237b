package dev.spillway.client;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How a call is retried when the broker cannot be reached: at most {@code attempts} tries in all,
 * waiting {@code initial} after the first failure, then twice as long each time up to {@code max},
 * each wait drawn at random from its upper half so that many clients cut off together do not
 * come back together.
 *
 * @param attempts tries in all, the first included (1: never retry)
 * @param initial  the wait after the first failure
 * @param max      the longest wait
 */
public record Backoff(int attempts, Duration initial, Duration max) {

    /** Five tries over about eight seconds. */
    public static final Backoff DEFAULT = new Backoff(5, Duration.ofMillis(250), Duration.ofSeconds(4));

    /** One try: the first failure is the answer. */
    public static final Backoff NONE = new Backoff(1, Duration.ofMillis(1), Duration.ofMillis(1));

    public Backoff {
        if (attempts < 1) throw new IllegalArgumentException("attempts must be at least 1, not " + attempts);
        if (initial.isNegative() || initial.isZero()) throw new IllegalArgumentException("initial must be positive, not " + initial);
        if (max.compareTo(initial) < 0) throw new IllegalArgumentException("max (" + max + ") must be at least initial (" + initial + ")");
    }

    /** The wait before try {@code next} (2 for the first retry). */
    public Duration delayBefore(int next) {
        long ceiling = initial.toMillis();
        for (int i = 2; i < next && ceiling < max.toMillis(); i++) ceiling *= 2;
        ceiling = Math.min(ceiling, max.toMillis());
        long floor = ceiling / 2;
        return Duration.ofMillis(floor + ThreadLocalRandom.current().nextLong(ceiling - floor + 1));
    }
}
