package dev.spillway.api;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The compute quantities people write, in one place for the CLI (job spec files), the agent
 * ({@code --cpu}, {@code --memory}) and the broker.
 *
 * <ul>
 *   <li>CPU, read into thousandths of a core ({@code Resources.cpu_millis}): cores such as
 *       {@code 2}, {@code 0.5} or {@code 1e1}, or whole millicores such as {@code 500m}.</li>
 *   <li>Memory, read into MiB ({@code Resources.memory_mib}): a number with a binary unit,
 *       case-insensitive: {@code Mi}/{@code MiB}/{@code M}, {@code Gi}/{@code GiB}/{@code G},
 *       {@code Ti}/{@code TiB}; or a plain number of MiB. {@code G} and {@code M} are binary
 *       too (there are no decimal gigabytes here), so {@code 4G} is {@code 4Gi}.</li>
 * </ul>
 *
 * Both may have a space between number and unit. An amount must be exact in its unit (no
 * fractions of a millicore or of a MiB), not negative, and fit in a {@code long}. A text that is
 * not an amount is refused with an {@link IllegalArgumentException} whose message quotes the
 * text and says what is wrong with it, e.g.
 * {@code not a memory amount: '0.3Gi' (that is 307.2 MiB; memory is counted in whole MiB)}.
 *
 * <p>{@link #formatCpu} and {@link #formatMemory} write amounts the way the parsers read them back.
 */
public final class Quantities {

    private Quantities() {}

    private static final String CPU_HINT = "cores such as 2 or 0.5, or millicores such as 500m";
    private static final String MEMORY_HINT = "such as 4Gi, 512Mi, or a number of MiB";

    /** A decimal number (ASCII digits, optional sign and exponent), then perhaps a unit. */
    private static final Pattern AMOUNT = Pattern.compile(
            "(?<number>[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\\s*(?<unit>[A-Za-z]*)");

    private static final long MIB_PER_GIB = 1024;
    private static final long MIB_PER_TIB = 1024 * 1024;

    /** Memory units (lower case) to MiB. */
    private static final Map<String, Long> MEMORY_UNITS = Map.of(
            "", 1L, "m", 1L, "mi", 1L, "mib", 1L,
            "g", MIB_PER_GIB, "gi", MIB_PER_GIB, "gib", MIB_PER_GIB,
            "ti", MIB_PER_TIB, "tib", MIB_PER_TIB);

    private static final BigDecimal LONG_MAX = BigDecimal.valueOf(Long.MAX_VALUE);

    /**
     * CPU as written ({@code "2"}, {@code "0.5"}, {@code "500m"}) in thousandths of a core.
     *
     * @throws IllegalArgumentException {@code not a cpu amount: '<text>' (<why>)}
     */
    public static long parseCpuMillis(String text) {
        Matcher m = match(text);
        if (m == null) throw notA("cpu", text, CPU_HINT);
        String unit = m.group("unit");
        BigDecimal number = number(m, "cpu", text, CPU_HINT);
        BigDecimal millis;
        if (unit.isEmpty()) {
            try {
                // Not movePointRight: it expands 1e999999999 into a billion digits.
                millis = number.scaleByPowerOfTen(3);
            } catch (ArithmeticException e) {
                throw notA("cpu", text, "too large");
            }
        } else if (unit.equals("m")) {
            millis = number;
        } else {
            throw notA("cpu", text, "unknown unit '" + unit + "'; " + CPU_HINT);
        }
        if (millis.signum() < 0) throw notA("cpu", text, "negative");
        if (millis.compareTo(LONG_MAX) > 0) throw notA("cpu", text, "too large");
        if (!whole(millis)) {
            throw notA("cpu", text, "that is " + plain(millis) + " millicores; the finest amount is 1m, a thousandth of a core");
        }
        return millis.longValueExact();
    }

    /**
     * Memory as written ({@code "4Gi"}, {@code "512Mi"}, {@code "1024"}) in MiB.
     *
     * @throws IllegalArgumentException {@code not a memory amount: '<text>' (<why>)}
     */
    public static long parseMemoryMib(String text) {
        Matcher m = match(text);
        if (m == null) throw notA("memory", text, MEMORY_HINT);
        String unit = m.group("unit");
        Long factor = MEMORY_UNITS.get(unit.toLowerCase(Locale.ROOT));
        if (factor == null) {
            throw notA("memory", text, "unknown unit '" + unit + "'; use Mi, Gi or Ti (binary; M and G mean the same), "
                    + "or a plain number of MiB");
        }
        BigDecimal mib = number(m, "memory", text, MEMORY_HINT).multiply(BigDecimal.valueOf(factor));
        if (mib.signum() < 0) throw notA("memory", text, "negative");
        if (mib.compareTo(LONG_MAX) > 0) throw notA("memory", text, "too large");
        if (!whole(mib)) throw notA("memory", text, "that is " + plain(mib) + " MiB; memory is counted in whole MiB");
        return mib.longValueExact();
    }

    /** Cores, the way {@link #parseCpuMillis} reads them back: {@code "2"}, {@code "1.5"}, {@code "0.001"}. */
    public static String formatCpu(long cpuMillis) {
        if (cpuMillis < 0) throw new IllegalArgumentException("negative cpu: " + cpuMillis + "m");
        return BigDecimal.valueOf(cpuMillis, 3).stripTrailingZeros().toPlainString();
    }

    /**
     * Memory, the way {@link #parseMemoryMib} reads it back: {@code "4Gi"} when a whole number of
     * GiB, else {@code "512Mi"}.
     */
    public static String formatMemory(long memoryMib) {
        if (memoryMib < 0) throw new IllegalArgumentException("negative memory: " + memoryMib + " MiB");
        if (memoryMib > 0 && memoryMib % MIB_PER_GIB == 0) return memoryMib / MIB_PER_GIB + "Gi";
        return memoryMib + "Mi";
    }

    private static Matcher match(String text) {
        if (text == null) return null;
        Matcher m = AMOUNT.matcher(text.strip());
        return m.matches() ? m : null;
    }

    private static BigDecimal number(Matcher m, String what, String text, String hint) {
        try {
            return new BigDecimal(m.group("number"));
        } catch (NumberFormatException e) {
            // Only an exponent beyond an int gets here (e.g. 1e99999999999).
            throw notA(what, text, "too large or too small; " + hint);
        }
    }

    /** Whether {@code n} has no fractional part (without expanding it: {@code 1e-999999999} is cheap). */
    private static boolean whole(BigDecimal n) {
        return n.signum() == 0 || n.scale() <= 0 || n.stripTrailingZeros().scale() <= 0;
    }

    private static String plain(BigDecimal n) {
        BigDecimal stripped = n.stripTrailingZeros();
        // A fraction this fine would print thousands of zeros: say it in scientific notation.
        return stripped.scale() > 12 ? stripped.toString() : stripped.toPlainString();
    }

    private static IllegalArgumentException notA(String what, String text, String why) {
        return new IllegalArgumentException("not a " + what + " amount: '" + text + "' (" + why + ")");
    }
}
