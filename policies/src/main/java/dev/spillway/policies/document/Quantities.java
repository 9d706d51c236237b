package dev.spillway.policies.document;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The spellings documents use for amounts and durations. Each method returns null for a bad spelling. */
final class Quantities {

    private Quantities() {}

    private static final Pattern CPU = Pattern.compile("(\\d+)(?:\\.(\\d{1,3}))?|(\\d+)m");
    private static final Pattern BINARY = Pattern.compile("(\\d+)(Ki|Mi|Gi|Ti|Pi)?");
    private static final Pattern DURATION = Pattern.compile("(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?");

    /** Cores ({@code 4}, {@code 0.5}) or millicores ({@code 500m}) → millicores. */
    static Long cpuMillis(String s) {
        Matcher m = CPU.matcher(s);
        if (!m.matches()) return null;
        try {
            if (m.group(3) != null) return Long.parseLong(m.group(3));
            long whole = Math.multiplyExact(Long.parseLong(m.group(1)), 1000L);
            String frac = m.group(2) == null ? "" : m.group(2);
            return whole + (frac.isEmpty() ? 0 : Long.parseLong((frac + "00").substring(0, 3)));
        } catch (ArithmeticException | NumberFormatException e) {
            return null;
        }
    }

    /** {@code 512Mi}, {@code 16Gi}, {@code 1Ti} (a bare number is MiB) → MiB; amounts below 1 MiB are refused. */
    static Long memoryMib(String s) {
        Long bytes = bytes(s.matches("\\d+") ? s + "Mi" : s);
        if (bytes == null || bytes % (1L << 20) != 0) return null;
        return bytes >> 20;
    }

    /** {@code 2Ti}, {@code 500Gi}, or a bare number of bytes → bytes. */
    static Long bytes(String s) {
        Matcher m = BINARY.matcher(s);
        if (!m.matches()) return null;
        int shift = m.group(2) == null ? 0 : switch (m.group(2)) {
            case "Ki" -> 10;
            case "Mi" -> 20;
            case "Gi" -> 30;
            case "Ti" -> 40;
            default -> 50;
        };
        try {
            long n = Long.parseLong(m.group(1));
            if (n > (Long.MAX_VALUE >> shift)) return null;
            return n << shift;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** US dollars ({@code 20}, {@code 12.50}, at most six decimals) in millionths; null when not such an amount. */
    static Long microUsd(String s) {
        if (!s.matches("\\d{1,9}(\\.\\d{1,6})?")) return null;
        return new java.math.BigDecimal(s).movePointRight(6).longValueExact();
    }

    static Long wholeNumber(String s) {
        if (!s.matches("\\d{1,18}")) return null;
        return Long.parseLong(s);
    }

    /** {@code 90s}, {@code 10m}, {@code 1h30m}, {@code 0s} → a duration. */
    static Duration duration(String s) {
        if (s.isEmpty()) return null;
        Matcher m = DURATION.matcher(s);
        if (!m.matches()) return null;
        try {
            long h = m.group(1) == null ? 0 : Long.parseLong(m.group(1));
            long min = m.group(2) == null ? 0 : Long.parseLong(m.group(2));
            long sec = m.group(3) == null ? 0 : Long.parseLong(m.group(3));
            return Duration.ofHours(h).plusMinutes(min).plusSeconds(sec);
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }
}
