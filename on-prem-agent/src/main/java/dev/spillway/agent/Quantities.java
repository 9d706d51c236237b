package dev.spillway.agent;

import java.math.BigDecimal;
import java.util.Locale;

/** Parsing of the quantities users type: cores ("2", "0.5", "500m") and memory ("4Gi", "512Mi", "4096"). */
public final class Quantities {

    private Quantities() {}

    /** CPU cores to thousandths of a core. */
    public static long cpuMillis(String text) {
        String t = text.trim();
        try {
            if (t.endsWith("m")) return Long.parseLong(t.substring(0, t.length() - 1));
            return new BigDecimal(t).movePointRight(3).longValueExact();
        } catch (ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException("not a cpu amount: '" + text + "' (use cores such as 2 or 0.5, or millicores such as 500m)");
        }
    }

    /** Memory to MiB. A plain number means MiB. */
    public static long memoryMib(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long factor = 1;
        String number = t;
        if (t.endsWith("gi") || t.endsWith("g") || t.endsWith("gib")) {
            factor = 1024;
            number = t.replaceAll("(gib|gi|g)$", "");
        } else if (t.endsWith("mi") || t.endsWith("m") || t.endsWith("mib")) {
            number = t.replaceAll("(mib|mi|m)$", "");
        } else if (t.endsWith("ti") || t.endsWith("tib")) {
            factor = 1024 * 1024;
            number = t.replaceAll("(tib|ti)$", "");
        }
        try {
            return new BigDecimal(number).multiply(BigDecimal.valueOf(factor)).longValueExact();
        } catch (ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException("not a memory amount: '" + text + "' (use 4Gi, 512Mi or a number of MiB)");
        }
    }
}
