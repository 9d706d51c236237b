package dev.spillway.core.cost;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Resources;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/** An instance's charge and its split: billed per second with a minimum, and parts that always add up to the whole. */
class AllocationPropertiesTest {

    private static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
    private static final Resources FOUR_CORES = new Resources(4000, 16_384, 0);

    @Example
    void billedPerStartedSecondWithAMinuteAtLeast() {
        Billing b = Billing.PER_SECOND_MINUTE_MINIMUM;
        assertThat(b.billedSeconds(T0, T0)).isEqualTo(60);
        assertThat(b.billedSeconds(T0, T0.plusSeconds(10))).isEqualTo(60);
        assertThat(b.billedSeconds(T0, T0.plusMillis(61_200))).isEqualTo(62);
        assertThat(InstanceCharge.of("i-1", "aws-eu", T0, T0.plusSeconds(3600), 0.096, b).microUsd()).isEqualTo(96_000);
        assertThat(InstanceCharge.of("i-2", "aws-eu", T0, T0.plusSeconds(5), 0.096, b).microUsd()).as("a minute of 0.096/h").isEqualTo(1_600);
    }

    @Example
    void anAttemptHoldingTheWholeInstanceForAllItsBilledTimeIsChargedAllOfIt() {
        InstanceCharge c = InstanceCharge.of("i-1", "aws-eu", T0, T0.plusSeconds(7200), 0.23, Billing.PER_SECOND_MINUTE_MINIMUM);
        Allocation.Result r = Allocation.allocate(c, FOUR_CORES, List.of(new Allocation.Use("j/0#1", "t", FOUR_CORES, T0, c.billedUntil())),
                Allocation.Weights.EVEN);
        assertThat(r.byAttempt()).containsEntry("j/0#1", c.microUsd());
        assertThat(r.idleMicroUsd()).isZero();
    }

    @Example
    void timeOutsideTheBilledLifetimeIsNotCharged() {
        // Billed for 60 s (it ran 10 s); one attempt ran from 30 s before the launch to 30 s after it: half the billed time.
        InstanceCharge c = InstanceCharge.of("i-1", "aws-eu", T0, T0.plusSeconds(10), 0.36, Billing.PER_SECOND_MINUTE_MINIMUM);
        Allocation.Result r = Allocation.allocate(c, FOUR_CORES, List.of(new Allocation.Use("a", "t", FOUR_CORES, T0.minusSeconds(30),
                T0.plusSeconds(30))), Allocation.Weights.EVEN);
        assertThat(c.microUsd()).isEqualTo(6_000);
        assertThat(r.byAttempt()).containsEntry("a", 3_000L);
        assertThat(r.idleMicroUsd()).isEqualTo(3_000);
    }

    @Property(tries = 2000)
    void theAttemptsPartsAndTheIdleRestAddUpToTheChargeExactly(@ForAll("charges") InstanceCharge charge, @ForAll("uses") List<Allocation.Use> uses,
                                                                @ForAll @DoubleRange(min = 0, max = 4) double cpuWeight,
                                                                @ForAll @DoubleRange(min = 0.01, max = 4) double memoryWeight) {
        Allocation.Result r = Allocation.allocate(charge, FOUR_CORES, uses, new Allocation.Weights(cpuWeight, memoryWeight));
        assertThat(r.byAttempt().values()).allSatisfy(part -> assertThat(part).isNotNegative());
        assertThat(r.idleMicroUsd()).isNotNegative();
        assertThat(r.allocatedMicroUsd() + r.idleMicroUsd()).isEqualTo(charge.microUsd());
        assertThat(r.byAttempt()).hasSize((int) uses.stream().map(Allocation.Use::attempt).distinct().count());
    }

    @Property(tries = 500)
    void attemptsAskingAlikeForAsLongPayAlike(@ForAll("charges") InstanceCharge charge, @ForAll @IntRange(min = 2, max = 4) int attempts,
                                               @ForAll @LongRange(min = 0, max = 36_000) long seconds) {
        Resources each = new Resources(FOUR_CORES.cpuMillis() / attempts, FOUR_CORES.memoryMib() / attempts, 0);
        List<Allocation.Use> uses = new ArrayList<>();
        for (int i = 0; i < attempts; i++) uses.add(new Allocation.Use("a" + i, "t", each, charge.launched(), charge.launched().plusSeconds(seconds)));
        Allocation.Result r = Allocation.allocate(charge, FOUR_CORES, uses, Allocation.Weights.EVEN);
        long first = r.byAttempt().get("a0");
        assertThat(r.byAttempt().values()).allSatisfy(part -> assertThat(part).isBetween(first - 1, first + 1));
    }

    @Provide
    Arbitrary<InstanceCharge> charges() {
        return Combinators.combine(Arbitraries.longs().between(0, 36_000_000), Arbitraries.doubles().between(0, 5).ofScale(4))
                .as((millis, price) -> InstanceCharge.of("i", "p", T0, T0.plusMillis(millis), price, Billing.PER_SECOND_MINUTE_MINIMUM));
    }

    /** Up to 8 attempts, some sharing an id (an attempt seen in two slices), asking up to the whole instance, over times in and out of its life. */
    @Provide
    Arbitrary<List<Allocation.Use>> uses() {
        Arbitrary<Allocation.Use> use = Combinators.combine(
                Arbitraries.of("a", "b", "c", "d", "e"),
                Arbitraries.longs().between(0, 4000), Arbitraries.longs().between(0, 16_384),
                Arbitraries.longs().between(-3_600, 40_000), Arbitraries.longs().between(0, 40_000))
                .as((id, cpu, mem, start, length) -> new Allocation.Use(id, "t", new Resources(cpu, mem, 0), T0.plusSeconds(start),
                        T0.plusSeconds(start + length)));
        return use.list().ofMaxSize(8);
    }

    @Example
    void aDurationOfNoTimeIsBilledItsMinimum() {
        assertThat(new Billing(Duration.ZERO).billedSeconds(T0, T0)).isZero();
        assertThat(InstanceCharge.of("i", "p", T0, T0, 1.0, new Billing(Duration.ZERO)).microUsd()).isZero();
        assertThat(Allocation.allocate(InstanceCharge.of("i", "p", T0, T0, 1.0, new Billing(Duration.ZERO)), FOUR_CORES,
                List.of(new Allocation.Use("a", "t", FOUR_CORES, T0, T0.plusSeconds(5))), Allocation.Weights.EVEN).allocatedMicroUsd()).isZero();
    }
}
