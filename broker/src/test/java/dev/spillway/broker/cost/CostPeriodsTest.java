package dev.spillway.broker.cost;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.Test;

class CostPeriodsTest {

    @Test
    void aWindowIsCutAtUtcHoursOrDaysWithPartialEnds() {
        Instant from = Instant.parse("2026-12-01T22:00:00Z");
        Instant to = Instant.parse("2026-12-03T01:30:00Z");

        List<Instant[]> days = CostQueries.periods(from, to, ChronoUnit.DAYS);
        assertThat(days).extracting(p -> p[0].toString() + "/" + p[1]).containsExactly(
                "2026-12-01T22:00:00Z/2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z/2026-12-03T00:00:00Z", "2026-12-03T00:00:00Z/2026-12-03T01:30:00Z");

        List<Instant[]> hours = CostQueries.periods(from, to, ChronoUnit.HOURS);
        assertThat(hours).hasSize(28);
        assertThat(hours.get(27)[1]).isEqualTo(to);
        for (int i = 1; i < hours.size(); i++) assertThat(hours.get(i)[0]).isEqualTo(hours.get(i - 1)[1]);
    }

    @Test
    void anEmptyWindowHasNoPeriodsAndAHugeOneStopsPastTheLimit() {
        Instant t = Instant.parse("2026-12-01T00:00:00Z");
        assertThat(CostQueries.periods(t, t, ChronoUnit.HOURS)).isEmpty();
        assertThat(CostQueries.periods(t, t.plus(400, ChronoUnit.DAYS), ChronoUnit.HOURS)).hasSize(CostQueries.MAX_PERIODS + 1);
    }
}
