package dev.spillway.policies.quota;

import dev.spillway.core.scheduling.Resources;
import java.util.Locale;

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

    /** A quantity of this resource as people read it: {@code 16}, {@code 64 GiB}, {@code 2}, {@code $1.50/h}. */
    public String format(long amount) {
        return switch (this) {
            case CPU -> Resources.Format.cpu(amount);
            case MEMORY -> Resources.Format.memory(amount);
            case GPUS -> Long.toString(amount);
            case SPEND -> amount == Long.MAX_VALUE ? "unlimited" : "$" + String.format(Locale.ROOT, "%.2f", amount / 1_000_000.0) + "/h";
        };
    }
}
