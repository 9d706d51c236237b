package dev.spillway.core.cost;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Resources;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** Quotes: a hand-worked case, no bound without a wall-time limit, and a bound never below the expected cost. */
class QuotePropertiesTest {

    private static final Resources ONE_CORE = new Resources(1000, 1024, 0);
    private static final Offering T3 = new Offering("aws/eu-central-1a/t3.medium/spot", "aws", "eu-central-1", "eu-central-1a", "EU", "t3.medium",
            new Resources(2000, 4096, 0), true, 0.036);
    private static final Map<String, Quote.PoolTimes> TIMES = Map.of("aws",
            new Quote.PoolTimes(Duration.ofSeconds(5), Duration.ofSeconds(20), Duration.ofMinutes(5), Duration.ofSeconds(60)));

    @Example
    void fourTasksTwoOnARackTwoOnOneInstance() {
        // Rack slots at 0.10/task-hour; one t3.medium holds the other two, launched at 5 s, ready at 25 s.
        Quote.Job job = new Quote.Job(4, ONE_CORE, Duration.ofHours(1), Duration.ofMinutes(30), 2);
        Quote.Result q = Quote.of(job, List.of(new Quote.Slots("rack", 2, 0.10)), List.of(new Quote.Purchase(T3, 1, 2)), TIMES,
                Billing.PER_SECOND_MINUTE_MINIMUM, "expectedRuntime");
        assertThat(q.placedNow()).containsExactly(Map.entry("rack", 2));
        assertThat(q.burst()).isEqualTo(2);
        assertThat(q.waiting()).isZero();
        // Expected: 2 × 0.5 h × 0.10 = 0.10 on the rack; the instance from 5 s to 25 s + 30 min + 60 s: 1880 s × 0.036/h = 0.0188.
        assertThat(q.expectedMicroUsd()).isEqualTo(100_000 + 18_800);
        // Bound: 3 attempts of 1 h each: 2 × 3 h × 0.10 = 0.60; the instance ready after 5 min: 5 min + 3 h + 60 s = 11160 s = 0.1116.
        assertThat(q.notToExceedMicroUsd()).isEqualTo(600_000 + 111_600);
        assertThat(q.expectedStart()).isZero();
        assertThat(q.expectedFinish()).isEqualTo(Duration.ofSeconds(25).plus(Duration.ofMinutes(30)));
    }

    @Example
    void withoutAWallTimeLimitThereIsNoBoundAndTheQuoteNamesTheField() {
        Quote.Result q = Quote.of(new Quote.Job(3, ONE_CORE, null, null, 0), List.of(new Quote.Slots("rack", 3, 0.1)), List.of(), TIMES,
                Billing.PER_SECOND_MINUTE_MINIMUM, "expectedRuntime");
        assertThat(q.notToExceedMicroUsd()).isNull();
        assertThat(q.expectedMicroUsd()).isNull();
        assertThat(q.unbounded()).contains("spec.task.max_runtime");
    }

    @Example
    void movingTheJobsDataIsInBothFiguresOnce() {
        Quote.Job job = new Quote.Job(2, ONE_CORE, Duration.ofHours(1), Duration.ofMinutes(30), 0);
        Quote.Result q = Quote.of(job, List.of(new Quote.Slots("rack", 2, 0.10)), List.of(), TIMES, Billing.PER_SECOND_MINUTE_MINIMUM, "e", null,
                1_070_000);
        assertThat(q.expectedMicroUsd()).isEqualTo(100_000 + 1_070_000);
        assertThat(q.notToExceedMicroUsd()).isEqualTo(200_000 + 1_070_000);
        assertThat(q.notToExceedCloudMicroUsd()).as("egress is billed by a cloud").isEqualTo(1_070_000);
        assertThat(q.egressMicroUsd()).isEqualTo(1_070_000);
    }

    @Example
    void noInstanceIsBoughtWhenTheRackStartsEveryTaskBeforeTheBurst() {
        // Two 2 s tasks on two rack slots are all started long before the pool's 5 s burstAfter.
        Quote.Result q = Quote.of(new Quote.Job(2, ONE_CORE, Duration.ofSeconds(2), null, 0), List.of(new Quote.Slots("rack", 2, 0.0)),
                List.of(new Quote.Purchase(T3, 1, 2)), TIMES, Billing.PER_SECOND_MINUTE_MINIMUM, "expectedRuntime");
        assertThat(q.expectedMicroUsd()).isZero();
    }

    @Property(tries = 300)
    void theBoundIsNeverBelowTheExpectedCost(@ForAll @IntRange(min = 1, max = 500) int tasks, @ForAll @IntRange(min = 0, max = 20) int rackSlots,
                                             @ForAll @IntRange(min = 0, max = 5) int instances, @ForAll @IntRange(min = 1, max = 7200) int expectedSeconds,
                                             @ForAll @IntRange(min = 0, max = 7200) int moreSeconds, @ForAll @IntRange(min = 0, max = 3) int retries) {
        Quote.Job job = new Quote.Job(tasks, ONE_CORE, Duration.ofSeconds(expectedSeconds + moreSeconds), Duration.ofSeconds(expectedSeconds), retries);
        List<Quote.Purchase> buy = instances == 0 ? List.of() : List.of(new Quote.Purchase(T3, instances, Math.min(tasks, 2 * instances)));
        Quote.Result q = Quote.of(job, List.of(new Quote.Slots("rack", rackSlots, 0.05)), buy, TIMES, Billing.PER_SECOND_MINUTE_MINIMUM, "e");
        assertThat(q.notToExceedMicroUsd()).isGreaterThanOrEqualTo(q.expectedMicroUsd());
        assertThat(q.placedNow().values().stream().mapToInt(Integer::intValue).sum() + q.burst() + q.waiting()).isEqualTo(tasks);
    }
}
