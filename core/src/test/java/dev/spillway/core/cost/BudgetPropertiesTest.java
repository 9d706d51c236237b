package dev.spillway.core.cost;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.DayOfWeek;
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
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/** Budget periods tile time, and booking keeps spent + reserved within the limit at every step. */
class BudgetPropertiesTest {

    @Property(tries = 500)
    void aPeriodHoldsItsInstantAndTheNextStartsWhereItEnds(@ForAll("periods") BudgetPeriod period,
                                                         @ForAll @LongRange(min = 1_700_000_000L, max = 1_900_000_000L) long seconds) {
        Instant t = Instant.ofEpochSecond(seconds);
        BudgetPeriod.Window w = period.at(t);
        assertThat(w.holds(t)).isTrue();
        assertThat(period.at(w.end()).start()).isEqualTo(w.end());
        assertThat(period.at(w.start())).isEqualTo(w);
        assertThat(BudgetPeriod.parse(period.text())).isEqualTo(period);
    }

    @Example
    void aMonthlyBudgetFromThe15thAndAFixedWindow() {
        BudgetPeriod.Window w = BudgetPeriod.parse("monthly:15").at(Instant.parse("2026-12-03T02:00:00Z"));
        assertThat(w.start()).isEqualTo(Instant.parse("2026-11-15T00:00:00Z"));
        assertThat(w.end()).isEqualTo(Instant.parse("2026-12-15T00:00:00Z"));
        BudgetPeriod fixed = BudgetPeriod.parse("fixed:2026-12-01/2027-01-01");
        assertThat(fixed.at(Instant.parse("2027-01-01T00:00:00Z"))).as("the end is exclusive").isNull();
        // Half the period gone, 40 spent, 5 reserved: 80 at this pace.
        assertThat(fixed.at(Instant.parse("2026-12-10T00:00:00Z")).forecastMicroUsd(40, 5, Instant.parse("2026-12-16T12:00:00Z"))).isEqualTo(80);
    }

    @Provide
    Arbitrary<BudgetPeriod> periods() {
        return Arbitraries.oneOf(Arbitraries.integers().between(1, 28).map(BudgetPeriod.Monthly::new),
                Arbitraries.of(DayOfWeek.values()).map(BudgetPeriod.Weekly::new));
    }

    /**
     * Jobs admitted within a hard limit (each reserving its quote), then, step after step, some cost more (never more than
     * their quote: prices unchanged) and some end: booked each time, spent + reserved never passes the limit, and what
     * ended jobs held is released.
     */
    @Property(tries = 1000)
    void bookingNeverTakesSpentPlusReservedPastTheLimit(@ForAll @LongRange(min = 1, max = 1_000_000) long limit,
                                                       @ForAll("quotes") List<Long> quotes, @ForAll("steps") List<long[]> steps) {
        List<long[]> jobs = new ArrayList<>(); // quote, actual, ended (0/1)
        long reserved = 0;
        for (long q : quotes) {
            if (limit - reserved >= q) { // admission's conditional reservation
                jobs.add(new long[] {q, 0, 0});
                reserved += q;
            }
        }
        for (long[] step : steps) {
            if (jobs.isEmpty()) break;
            long[] job = jobs.get((int) (step[0] % jobs.size()));
            if (step[1] == 0) job[2] = 1;
            else job[1] = Math.min(job[0], job[1] + step[2]);
            long spent = 0;
            long held = 0;
            for (long[] j : jobs) {
                spent += j[1];
                held += BudgetBooks.remaining(new BudgetBooks.Held(j[0], j[1], j[2] == 1));
                if (j[2] == 1) assertThat(BudgetBooks.remaining(new BudgetBooks.Held(j[0], j[1], true))).isZero();
            }
            assertThat(spent + held).isLessThanOrEqualTo(limit);
        }
    }

    @Provide
    Arbitrary<List<Long>> quotes() {
        return Arbitraries.longs().between(0, 300_000).list().ofMaxSize(20);
    }

    @Provide
    Arbitrary<List<long[]>> steps() {
        return Combinators.combine(Arbitraries.longs().between(0, 100), Arbitraries.longs().between(0, 3), Arbitraries.longs().between(0, 200_000))
                .as((job, kind, amount) -> new long[] {job, kind, amount}).list().ofMaxSize(40);
    }

    @Property(tries = 300)
    void anAlertFiresOncePerThresholdAndTheLevelNeverGoesDown(@ForAll @IntRange(min = 0, max = 150) int percentBefore,
                                                           @ForAll @IntRange(min = 0, max = 150) int percentNow) {
        List<Integer> thresholds = List.of(50, 80, 100);
        int before = BudgetBooks.alertLevel(thresholds, percentBefore * 1000L, 100_000, 0);
        int now = BudgetBooks.alertLevel(thresholds, percentNow * 1000L, 100_000, before);
        assertThat(now).isGreaterThanOrEqualTo(before);
        assertThat(thresholds.contains(now) || now == 0).isTrue();
        if (percentNow >= 80) assertThat(now).isGreaterThanOrEqualTo(80);
    }
}
