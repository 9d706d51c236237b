package dev.spillway.core.scheduling;

/**
 * An amount of compute: CPU in thousandths of a core, memory in MiB, whole GPUs.
 * Immutable; all arithmetic returns new values.
 */
public record Resources(long cpuMillis, long memoryMib, int gpus) {

    public static final Resources ZERO = new Resources(0, 0, 0);

    public Resources {
        if (cpuMillis < 0 || memoryMib < 0 || gpus < 0) {
            throw new IllegalArgumentException("negative resources: " + cpuMillis + "m cpu, " + memoryMib + " MiB, " + gpus + " gpu");
        }
    }

    public Resources plus(Resources other) {
        return new Resources(cpuMillis + other.cpuMillis, memoryMib + other.memoryMib, gpus + other.gpus);
    }

    /** Subtraction clamped at zero per dimension (a node reporting more use than capacity is full, not negative). */
    public Resources minusClamped(Resources other) {
        return new Resources(Math.max(0, cpuMillis - other.cpuMillis), Math.max(0, memoryMib - other.memoryMib),
                Math.max(0, gpus - other.gpus));
    }

    public Resources times(int n) {
        return new Resources(cpuMillis * n, memoryMib * n, gpus * n);
    }

    /** Whether {@code need} fits inside this amount in every dimension. */
    public boolean covers(Resources need) {
        return need.cpuMillis <= cpuMillis && need.memoryMib <= memoryMib && need.gpus <= gpus;
    }

    /** The first dimension in which {@code need} exceeds this amount, or null if it fits. */
    public Dimension shortfall(Resources need) {
        if (need.cpuMillis > cpuMillis) return Dimension.CPU;
        if (need.memoryMib > memoryMib) return Dimension.MEMORY;
        if (need.gpus > gpus) return Dimension.GPU;
        return null;
    }

    @Override
    public String toString() {
        return Format.cpu(cpuMillis) + " cpu, " + Format.memory(memoryMib) + (gpus > 0 ? ", " + gpus + " gpu" : "");
    }

    /** Human formatting of quantities, shared by explanations and the CLI. */
    public static final class Format {
        private Format() {}

        public static String cpu(long millis) {
            return millis % 1000 == 0 ? Long.toString(millis / 1000) : String.format(java.util.Locale.ROOT, "%.3f", millis / 1000.0).replaceAll("0+$", "");
        }

        public static String memory(long mib) {
            if (mib >= 1024 && mib % 1024 == 0) return (mib / 1024) + " GiB";
            return mib + " MiB";
        }
    }
}
