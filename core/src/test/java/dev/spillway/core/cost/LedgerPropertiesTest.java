package dev.spillway.core.cost;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Resources;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * The ledger cut into hours: each instance's hours add up to its whole charge, each hour's job
 * parts and idle rest add up to that hour's part, and reading the same history in two windows
 * gives the same lines as reading it in one.
 */
class LedgerPropertiesTest {

    private static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
    private static final Resources FOUR_CORES = new Resources(4000, 16_384, 0);
    private static final Billing BILLING = Billing.PER_SECOND_MINUTE_MINIMUM;
    private static final Ledger.Rates RACK = new Ledger.Rates(0.02, 0.005, 0.5);

    private static List<Ledger.Entry> read(Instant from, Instant to, Instant now, List<Ledger.Instance> instances, List<Ledger.Attempt> attempts) {
        return Ledger.entries(from, to, now, instances, attempts, pool -> pool.equals("rack") ? RACK : null, Allocation.Weights.EVEN, BILLING);
    }

    @Example
    void anInstanceAcrossAnHourIsChargedEachHourItsSecondsAndTheMinimumOnlyWhereItEnds() {
        // Launched at 00:59:50, ended at 01:00:20: 10 s in the first hour, the rest of the minute in the second.
        var i = new Ledger.Instance("i-1", "n-1", "aws", FOUR_CORES, T0.plusSeconds(3590), T0.plusSeconds(3620), 0.36);
        List<Ledger.Entry> lines = read(T0, T0.plus(Duration.ofHours(3)), T0.plus(Duration.ofHours(3)), List.of(i), List.of());
        assertThat(lines).extracting(Ledger.Entry::periodStart, Ledger.Entry::seconds, Ledger.Entry::microUsd).containsExactly(
                org.assertj.core.groups.Tuple.tuple(T0, 10.0, 1_000L),
                org.assertj.core.groups.Tuple.tuple(T0.plusSeconds(3600), 50.0, 5_000L));
        assertThat(lines).allMatch(Ledger.Entry::idle);
    }

    @Example
    void aJobOnHalfTheInstanceForHalfAnHourPaysAQuarterOfTheHour() {
        var i = new Ledger.Instance("i-1", "n-1", "aws", FOUR_CORES, T0, T0.plusSeconds(3600), 0.40);
        var a = new Ledger.Attempt("job-a", "risk", "n-1", "aws", new Resources(2000, 8192, 0), T0, T0.plusSeconds(1800));
        List<Ledger.Entry> lines = read(T0, T0.plusSeconds(3600), T0.plusSeconds(3600), List.of(i), List.of(a));
        assertThat(lines).filteredOn(e -> !e.idle()).singleElement().satisfies(e -> {
            assertThat(e.microUsd()).isEqualTo(100_000);
            assertThat(e.tenant()).isEqualTo("risk");
            assertThat(e.seconds()).isEqualTo(1800.0);
        });
        assertThat(lines).filteredOn(Ledger.Entry::idle).singleElement().extracting(Ledger.Entry::microUsd).isEqualTo(300_000L);
    }

    @Example
    void onPremWorkIsPricedByItsPoolsRateCardAndAPoolWithoutOneCostsNothing() {
        // 4 cores and 8 GiB for 90 minutes at 0.02/core-h and 0.005/GiB-h: 0.12 × 1.5 = 0.18, 0.12 in the first hour.
        var rack = new Ledger.Attempt("job-a", "risk", "r-1", "rack", new Resources(4000, 8192, 0), T0, T0.plusSeconds(5400));
        var lab = new Ledger.Attempt("job-b", "risk", "l-1", "lab", new Resources(4000, 8192, 0), T0, T0.plusSeconds(5400));
        List<Ledger.Entry> lines = read(T0, T0.plus(Duration.ofHours(2)), T0.plus(Duration.ofHours(2)), List.of(), List.of(rack, lab));
        assertThat(lines).filteredOn(e -> e.pool().equals("rack")).extracting(Ledger.Entry::microUsd).containsExactly(120_000L, 60_000L);
        assertThat(lines).filteredOn(e -> e.pool().equals("lab")).extracting(Ledger.Entry::microUsd).containsOnly(0L);
        assertThat(lines).allMatch(e -> e.kind() == Ledger.Kind.ON_PREM);
    }

    @Example
    void aRunningInstanceReadNowIsChargedSoFarAndAtLeastItsMinimum() {
        var i = new Ledger.Instance("i-1", "n-1", "aws", FOUR_CORES, T0.plusSeconds(100), null, 0.36);
        assertThat(total(read(T0, T0.plusSeconds(3600), T0.plusSeconds(110), List.of(i), List.of()))).isEqualTo(6_000);
        assertThat(total(read(T0, T0.plusSeconds(3600), T0.plusSeconds(1000), List.of(i), List.of()))).isEqualTo(90_000);
    }

    @Property(tries = 1000)
    void anInstancesHoursAddUpToItsWholeChargeAndEachHoursLinesToThatHour(@ForAll("instances") Ledger.Instance instance,
                                                                           @ForAll("attempts") List<Ledger.Attempt> attempts) {
        Instant end = T0.plus(Duration.ofHours(30));
        List<Ledger.Entry> lines = read(T0, end, end, List.of(instance), attempts);
        long whole = InstanceCharge.of(instance.id(), instance.pool(), instance.launched(), instance.ended(), instance.usdPerHour(), BILLING).microUsd();
        List<Ledger.Entry> cloud = lines.stream().filter(e -> e.kind() == Ledger.Kind.CLOUD).toList();
        assertThat(total(cloud)).isEqualTo(whole);
        assertThat(lines).allSatisfy(e -> assertThat(e.microUsd()).isNotNegative());
        // One idle line per hour the instance was billed in, at most one line per job per hour.
        Map<Instant, List<Ledger.Entry>> byHour = cloud.stream().collect(Collectors.groupingBy(Ledger.Entry::periodStart));
        byHour.forEach((hour, hourLines) -> {
            assertThat(hourLines).filteredOn(Ledger.Entry::idle).hasSize(1);
            assertThat(hourLines.stream().map(Ledger.Entry::jobId).distinct().count()).isEqualTo(hourLines.size());
            assertThat(hour).isEqualTo(Ledger.periodOf(hour));
        });
        // Billed seconds: the idle lines carry the instance's billed seconds of each hour.
        assertThat(cloud.stream().filter(Ledger.Entry::idle).mapToDouble(Ledger.Entry::seconds).sum())
                .isEqualTo((double) BILLING.billedSeconds(instance.launched(), instance.ended()));
    }

    @Property(tries = 500)
    void readingTwoWindowsGivesTheLinesOfOne(@ForAll("instances") Ledger.Instance instance, @ForAll("attempts") List<Ledger.Attempt> attempts,
                                             @ForAll @IntRange(min = 0, max = 30) int cutHour) {
        Instant end = T0.plus(Duration.ofHours(30));
        Instant cut = T0.plus(Duration.ofHours(cutHour));
        List<Ledger.Entry> whole = read(T0, end, end, List.of(instance), attempts);
        List<Ledger.Entry> parts = new ArrayList<>(read(T0, cut, end, List.of(instance), attempts));
        parts.addAll(read(cut, end, end, List.of(instance), attempts));
        assertThat(parts).containsExactlyInAnyOrderElementsOf(whole);
    }

    @Property(tries = 500)
    void aRunningInstancesClosedHoursDoNotChangeAsTimeGoesOn(@ForAll("instances") Ledger.Instance ended, @ForAll("attempts") List<Ledger.Attempt> attempts,
                                                            @ForAll @IntRange(min = 1, max = 29) int readHour) {
        // The same instance read while it ran (at readHour + 30 min) and after its end: the hours before the reading's agree.
        Instant reading = T0.plus(Duration.ofHours(readHour)).plus(Duration.ofMinutes(30));
        if (!ended.ended().isAfter(reading) || ended.launched().isAfter(reading)) return;
        Ledger.Instance running = new Ledger.Instance(ended.id(), ended.node(), ended.pool(), ended.capacity(), ended.launched(), null, ended.usdPerHour());
        List<Ledger.Attempt> sofar = attempts.stream().filter(a -> a.start().isBefore(reading))
                .map(a -> a.end().isAfter(reading) ? new Ledger.Attempt(a.jobId(), a.tenant(), a.node(), a.pool(), a.request(), a.start(), null) : a)
                .toList();
        Instant closed = Ledger.periodOf(reading);
        List<Ledger.Entry> then = read(T0, closed, reading, List.of(running), sofar);
        List<Ledger.Entry> later = read(T0, closed, T0.plus(Duration.ofHours(40)), List.of(ended), attempts);
        assertThat(then).containsExactlyInAnyOrderElementsOf(later);
    }

    private static long total(List<Ledger.Entry> lines) {
        return lines.stream().mapToLong(Ledger.Entry::microUsd).sum();
    }

    @Provide
    Arbitrary<Ledger.Instance> instances() {
        return Combinators.combine(Arbitraries.longs().between(0, 20 * 3_600_000L), Arbitraries.longs().between(0, 8 * 3_600_000L),
                        Arbitraries.doubles().between(0, 5).ofScale(4))
                .as((launch, life, price) -> new Ledger.Instance("i-1", "n-1", "aws", FOUR_CORES, T0.plusMillis(launch),
                        T0.plusMillis(launch + life), price));
    }

    /** Attempts on the instance's node (within or beyond its life) and on an on-prem node, none running. */
    @Provide
    Arbitrary<List<Ledger.Attempt>> attempts() {
        Arbitrary<Ledger.Attempt> attempt = Combinators.combine(
                Arbitraries.of("job-a", "job-b", "job-c"), Arbitraries.of("n-1", "n-1", "r-1"),
                Arbitraries.longs().between(1, 4000), Arbitraries.longs().between(1, 16_384),
                Arbitraries.longs().between(0, 28 * 3600), Arbitraries.longs().between(0, 3 * 3600))
                .as((job, node, cpu, mem, start, length) -> new Ledger.Attempt(job, "t-" + job, node, node.equals("r-1") ? "rack" : "aws",
                        new Resources(cpu, mem, 0), T0.plusSeconds(start), T0.plusSeconds(start + length)));
        return attempt.list().ofMaxSize(6);
    }
}
