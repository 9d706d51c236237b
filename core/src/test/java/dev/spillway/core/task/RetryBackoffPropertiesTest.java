package dev.spillway.core.task;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** The retry delay is exactly min(initial × 2^(failures-1), max) for any failure count and any durations: no overflow. */
class RetryBackoffPropertiesTest {

    private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");

    /** Millisecond counts over the whole range, small ones and those near a power of two (where a shift overflows) included. */
    @Provide
    Arbitrary<Long> millis() {
        return Arbitraries.oneOf(
                Arbitraries.longs().between(0, 86_400_000L),
                Arbitraries.longs().between(0, Long.MAX_VALUE),
                Arbitraries.integers().between(0, 62).map(b -> 1L << b).flatMap(p -> Arbitraries.longs().between(p, Math.min(Long.MAX_VALUE, p + 2))));
    }

    @Provide
    Arbitrary<Integer> failures() {
        return Arbitraries.oneOf(Arbitraries.integers().between(1, 100), Arbitraries.integers(), Arbitraries.of(Integer.MAX_VALUE, Integer.MIN_VALUE));
    }

    private static long expected(long initial, long max, int failures) {
        int doublings = failures <= 1 ? 0 : failures - 1;
        if (initial == 0) return 0;
        if (doublings >= 64) return max;
        BigInteger delay = BigInteger.valueOf(initial).shiftLeft(doublings);
        return delay.min(BigInteger.valueOf(max)).longValueExact();
    }

    @Property(tries = 3000)
    void theDelayIsTheDoubledInitialCappedAtTheMaximum(@ForAll("millis") long initial, @ForAll("millis") long max,
                                                       @ForAll("failures") int failures) {
        RetryPolicy policy = new RetryPolicy(100, Duration.ofMillis(initial), Duration.ofMillis(max));
        assertThat(policy.backoffAfter(failures).toMillis()).isEqualTo(expected(initial, max, failures));
    }

    @Property
    void theDelayNeverShrinksAsFailuresGrow(@ForAll("millis") long initial, @ForAll("millis") long max,
                                           @ForAll @IntRange(min = 1, max = Integer.MAX_VALUE - 1) int failures) {
        RetryPolicy policy = new RetryPolicy(100, Duration.ofMillis(initial), Duration.ofMillis(max));
        assertThat(policy.backoffAfter(failures + 1)).isGreaterThanOrEqualTo(policy.backoffAfter(failures));
    }

    @Property
    void anEndedAttemptNeverOverflowsTheCountOrTheTime(@ForAll("millis") long initial, @ForAll("millis") long max,
                                                       @ForAll @IntRange(min = 0, max = Integer.MAX_VALUE) int failures,
                                                       @ForAll @IntRange(min = 0, max = 100) int maxRetries) {
        RetryPolicy policy = new RetryPolicy(maxRetries, Duration.ofMillis(initial), Duration.ofMillis(max));
        var d = TaskLifecycle.onAttemptEnded(new AttemptOutcome.Exited(1), failures, 0, policy, NOW);
        assertThat(d.failures()).isGreaterThanOrEqualTo(failures);
        if (failures >= maxRetries) {
            assertThat(d.state()).isEqualTo(TaskState.FAILED);
        } else {
            assertThat(d.state()).isEqualTo(TaskState.QUEUED);
            assertThat(d.notBefore()).isBetween(NOW, NOW.plusMillis(max));
        }
    }

    @Example
    void durationsBeyondTheMillisecondRangeSaturate() {
        RetryPolicy huge = new RetryPolicy(100, Duration.ofSeconds(Long.MAX_VALUE), Duration.ofSeconds(Long.MAX_VALUE));
        assertThat(huge.backoffAfter(1).toMillis()).isEqualTo(Long.MAX_VALUE);
        assertThat(huge.backoffAfter(Integer.MAX_VALUE).toMillis()).isEqualTo(Long.MAX_VALUE);
        RetryPolicy negative = new RetryPolicy(100, Duration.ofSeconds(-5), Duration.ofSeconds(-1));
        assertThat(negative.backoffAfter(3)).isEqualTo(Duration.ZERO);
    }

    @Example
    void aLargeInitialDelayNoLongerWrapsToASmallOne() {
        // 2^34 + 1 ms shifted by 30 wrapped around to 2^30 ms (12 days) before, below a cap of 2^62 ms.
        RetryPolicy p = new RetryPolicy(100, Duration.ofMillis((1L << 34) + 1), Duration.ofMillis(1L << 62));
        assertThat(p.backoffAfter(31).toMillis()).isEqualTo(1L << 62);
    }
}
