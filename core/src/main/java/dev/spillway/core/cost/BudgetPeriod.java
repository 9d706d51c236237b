package dev.spillway.core.cost;

import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.TemporalAdjusters;

/**
 * A budget's periods, in UTC: monthly from a day of the month, weekly from a day of the week, or
 * one fixed window. Pure.
 */
public sealed interface BudgetPeriod {

    /** The period holding {@code t}: its start (inclusive) and end (exclusive); null for a fixed window {@code t} is outside. */
    Window at(Instant t);

    /** How users write it: {@code monthly}, {@code monthly:15}, {@code weekly:MONDAY}, {@code fixed:2026-12-01/2027-01-01}. */
    String text();

    record Window(Instant start, Instant end) {
        public Window {
            if (!end.isAfter(start)) throw new IllegalArgumentException("a period ends after it starts: " + start + " to " + end);
        }

        public boolean holds(Instant t) {
            return !t.isBefore(start) && t.isBefore(end);
        }

        /**
         * What the period will have cost at its end at the pace it has cost so far ({@code spent} by {@code now}), or at
         * least what is spent and still reserved.
         */
        public long forecastMicroUsd(long spentMicroUsd, long reservedMicroUsd, Instant now) {
            Instant at = now.isBefore(start) ? start : now.isAfter(end) ? end : now;
            double elapsed = Duration.between(start, at).toMillis();
            double whole = Duration.between(start, end).toMillis();
            long paced = elapsed <= 0 ? spentMicroUsd : Math.round(spentMicroUsd * whole / elapsed);
            return Math.max(paced, spentMicroUsd + reservedMicroUsd);
        }
    }

    /** Monthly from {@code startDay} (1 to 28, so that every month has it), midnight UTC. */
    record Monthly(int startDay) implements BudgetPeriod {
        public Monthly {
            if (startDay < 1 || startDay > 28) throw new IllegalArgumentException("a monthly budget starts on day 1 to 28, not " + startDay);
        }

        @Override
        public Window at(Instant t) {
            LocalDate day = t.atZone(ZoneOffset.UTC).toLocalDate();
            LocalDate start = day.getDayOfMonth() >= startDay ? day.withDayOfMonth(startDay) : day.minusMonths(1).withDayOfMonth(startDay);
            return new Window(start.atStartOfDay(ZoneOffset.UTC).toInstant(), start.plusMonths(1).atStartOfDay(ZoneOffset.UTC).toInstant());
        }

        @Override
        public String text() {
            return startDay == 1 ? "monthly" : "monthly:" + startDay;
        }
    }

    /** Weekly from {@code startDay}, midnight UTC. */
    record Weekly(DayOfWeek startDay) implements BudgetPeriod {
        @Override
        public Window at(Instant t) {
            LocalDate start = t.atZone(ZoneOffset.UTC).toLocalDate().with(TemporalAdjusters.previousOrSame(startDay));
            return new Window(start.atStartOfDay(ZoneOffset.UTC).toInstant(), start.plusWeeks(1).atStartOfDay(ZoneOffset.UTC).toInstant());
        }

        @Override
        public String text() {
            return "weekly:" + startDay;
        }
    }

    /** One window. */
    record Fixed(Window window) implements BudgetPeriod {
        @Override
        public Window at(Instant t) {
            return window.holds(t) ? window : null;
        }

        @Override
        public String text() {
            return "fixed:" + window.start() + "/" + window.end();
        }
    }

    /** {@link #text()}'s inverse; IllegalArgumentException with what is wrong. */
    static BudgetPeriod parse(String text) {
        String t = text.trim();
        try {
            if (t.equals("monthly")) return new Monthly(1);
            if (t.startsWith("monthly:")) return new Monthly(Integer.parseInt(t.substring(8)));
            if (t.equals("weekly")) return new Weekly(DayOfWeek.MONDAY);
            if (t.startsWith("weekly:")) return new Weekly(DayOfWeek.valueOf(t.substring(7).toUpperCase(java.util.Locale.ROOT)));
            if (t.startsWith("fixed:") && t.indexOf('/') > 0) {
                String[] ends = t.substring(6).split("/", 2);
                return new Fixed(new Window(instant(ends[0]), instant(ends[1])));
            }
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a budget period: '" + text + "' (" + e.getMessage() + ")");
        }
        throw new IllegalArgumentException("not a budget period: '" + text + "'; monthly, monthly:DAY (1-28), weekly, weekly:DAY (MONDAY...), "
                + "or fixed:FROM/TO (dates or RFC 3339 times)");
    }

    private static Instant instant(String s) {
        return s.length() == 10 ? LocalDate.parse(s).atStartOfDay(ZoneOffset.UTC).toInstant() : java.time.OffsetDateTime.parse(s).toInstant();
    }
}
