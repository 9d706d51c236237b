package dev.spillway.policies.quota;

import dev.spillway.core.scheduling.Resources;

/**
 * Quantities of every {@link QuotaResource}: CPU in thousandths of a core, memory in MiB, whole
 * GPUs, cloud spend in millionths of a US dollar per hour. Immutable, never negative.
 */
public record Amounts(long cpuMillis, long memoryMib, long gpus, long spendMicroUsdPerHour) {

    public static final Amounts ZERO = new Amounts(0, 0, 0, 0);

    public Amounts {
        if (cpuMillis < 0 || memoryMib < 0 || gpus < 0 || spendMicroUsdPerHour < 0) {
            throw new IllegalArgumentException("negative amounts: " + cpuMillis + "m cpu, " + memoryMib + " MiB, " + gpus
                    + " gpus, " + spendMicroUsdPerHour + " micro-USD/h");
        }
    }

    /** A task's compute request and what it is expected to cost per hour where it runs. */
    public static Amounts of(Resources resources, long spendMicroUsdPerHour) {
        return new Amounts(resources.cpuMillis(), resources.memoryMib(), resources.gpus(), spendMicroUsdPerHour);
    }

    /**
     * What a task counts on a node: its request, and as spend the node's hourly price times the
     * task's share of the node, its largest fraction of the node's cpu, memory or gpus (a task
     * holding half a node's memory keeps half of it from others, whatever its cpu), rounded up to
     * a millionth of a dollar. On-prem nodes have price 0.
     */
    public static Amounts onNode(Resources request, Resources capacity, double usdPerHour) {
        if (!(usdPerHour > 0)) return of(request, 0);
        double share = Math.max(fraction(request.cpuMillis(), capacity.cpuMillis()),
                Math.max(fraction(request.memoryMib(), capacity.memoryMib()), fraction(request.gpus(), capacity.gpus())));
        return of(request, (long) Math.ceil(usdPerHour * Math.min(share, 1) * 1_000_000 - 1e-3)); // 0.8 * 1e6 is 800000.0000000001
    }

    private static double fraction(long part, long whole) {
        return whole <= 0 ? 0 : (double) part / whole;
    }

    public long get(QuotaResource r) {
        return switch (r) {
            case CPU -> cpuMillis;
            case MEMORY -> memoryMib;
            case GPUS -> gpus;
            case SPEND -> spendMicroUsdPerHour;
        };
    }

    long get(int resourceIndex) {
        return get(QuotaResource.at(resourceIndex));
    }

    public Amounts plus(Amounts o) {
        return new Amounts(Math.addExact(cpuMillis, o.cpuMillis), Math.addExact(memoryMib, o.memoryMib),
                Math.addExact(gpus, o.gpus), Math.addExact(spendMicroUsdPerHour, o.spendMicroUsdPerHour));
    }

    /** {@code n} times this amount (a task's request times a task count). */
    public Amounts times(long n) {
        return new Amounts(Math.multiplyExact(cpuMillis, n), Math.multiplyExact(memoryMib, n), Math.multiplyExact(gpus, n),
                Math.multiplyExact(spendMicroUsdPerHour, n));
    }

    public boolean isZero() {
        return cpuMillis == 0 && memoryMib == 0 && gpus == 0 && spendMicroUsdPerHour == 0;
    }
}
