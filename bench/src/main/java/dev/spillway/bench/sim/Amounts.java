package dev.spillway.bench.sim;

import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations ({@code 500ms}, {@code 30s}, {@code 5m}, {@code 2h}, {@code 1d}) and memory ({@code 512Mi}, {@code 4Gi}) as written on the command line and in pools files. */
final class Amounts {

    private static final Pattern AMOUNT = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([a-z]*)");
    private static final Map<String, Double> MILLIS = Map.of("ms", 1.0, "s", 1e3, "m", 60e3, "h", 3600e3, "d", 86400e3);
    private static final Map<String, Double> MIB = Map.of("", 1.0, "mi", 1.0, "mib", 1.0, "gi", 1024.0, "gib", 1024.0, "ti", 1048576.0);

    private Amounts() {}

    static long millis(String text) {
        return Math.round(parse(text, MILLIS, "a duration (such as 500ms, 30s, 5m, 2h, 1d)"));
    }

    static long mib(String text) {
        return Math.round(parse(text, MIB, "a memory amount (such as 512Mi, 4Gi, or a number of MiB)"));
    }

    private static double parse(String text, Map<String, Double> units, String what) {
        Matcher m = AMOUNT.matcher(text.strip().toLowerCase(Locale.ROOT));
        Double unit = m.matches() ? units.get(m.group(2)) : null;
        if (unit == null) throw new IllegalArgumentException("not " + what + ": '" + text + "'");
        return Double.parseDouble(m.group(1)) * unit;
    }
}
