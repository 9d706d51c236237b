package dev.spillway.policies.quota;

import dev.spillway.core.scheduling.Resources;

/**
 * A resource a tenant's quota governs, with its unit. Quantities are whole numbers in these units
 * so that quota arithmetic is exact.
 */
public enum QuotaResource {
    /** CPU in thousandths of a core (as {@link Resources#cpuMillis()}). */
    CPU("cpu"),
    /** Memory in MiB. */
    MEMORY("memory"),
    /** Whole GPUs. */
    GPUS("gpus"),
    /** Cloud spend in millionths of a US dollar per hour (1 USD/hour = 1,000,000). */
    SPEND("spendUsdPerHour");

    private static final QuotaResource[] ALL = values();

    /** The name documents and reasons use. */
    public final String key;

    QuotaResource(String key) {
        this.key = key;
    }

    static QuotaResource at(int index) {
        return ALL[index];
    }

    /** By its document name ({@code cpu}, {@code memory}, {@code gpus}, {@code spendUsdPerHour}). */
    public static QuotaResource byKey(String key) {
        for (QuotaResource r : ALL) if (r.key.equals(key)) return r;
        throw new IllegalArgumentException("unknown quota resource '" + key + "' (known: cpu, memory, gpus, spendUsdPerHour)");
    }

    /** Thousandths of a core as {@code 16} or {@code 5.92}: what {@link Resources.Format#cpu} prints, without its String.format. */
    private static String cores(long millis) {
        long frac = millis % 1000;
        if (frac == 0) return Long.toString(millis / 1000);
        String digits = Long.toString(1000 + frac).substring(1); // three digits
        int end = digits.length();
        while (digits.charAt(end - 1) == '0') end--;
        return millis / 1000 + "." + digits.substring(0, end);
    }

    /** Millionths of a dollar as {@code $1.50}, to the cent (half up), without String.format: reasons are built in the cycle. */
    private static String dollars(long micro) {
        long cents = (micro + 5_000) / 10_000;
        long c = cents % 100;
        return "$" + cents / 100 + (c < 10 ? ".0" : ".") + c;
    }

    /** A quantity of this resource as people read it: {@code 16}, {@code 64 GiB}, {@code 2}, {@code $1.50/h}. */
    public String format(long amount) {
        return switch (this) {
            case CPU -> cores(amount);
            case MEMORY -> Resources.Format.memory(amount);
            case GPUS -> Long.toString(amount);
            case SPEND -> dollars(amount) + "/h";
        };
    }
}
