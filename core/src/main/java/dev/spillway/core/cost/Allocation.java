package dev.spillway.core.cost;

import dev.spillway.core.scheduling.Resources;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An instance's charge split among the attempts that ran on it, in proportion to what each asked
 * for (its share of the instance's cpu and memory, weighted) × how long it ran within the billed
 * time; what no attempt accounts for is the pool's idle cost. Exact: each attempt's part is
 * rounded down to a millionth of a dollar and idle is the rest, so the parts add up to the charge.
 */
public final class Allocation {

    private Allocation() {
    }

    /** How much a task's share of the cpu and of the memory count in its share of the instance. */
    public record Weights(double cpu, double memory) {
        public static final Weights EVEN = new Weights(1, 1);

        public Weights {
            if (!(cpu >= 0) || !(memory >= 0) || cpu + memory <= 0 || Double.isInfinite(cpu + memory)) {
                throw new IllegalArgumentException("weights must be 0 or more, not both 0: cpu " + cpu + ", memory " + memory);
            }
        }
    }

    /** An attempt on the instance: what it asked for, from its start to its end (or the time of the reading). */
    public record Use(String attempt, String tenant, Resources request, Instant start, Instant end) {
        public Use {
            if (end.isBefore(start)) throw new IllegalArgumentException("attempt " + attempt + " ends before it starts");
        }
    }

    /** Each attempt's part, by attempt, and the idle rest; all in millionths of a dollar. */
    public record Result(Map<String, Long> byAttempt, long idleMicroUsd) {
        public Result {
            byAttempt = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(byAttempt));
        }

        public long allocatedMicroUsd() {
            return byAttempt.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /**
     * @param capacity what the instance offers to tasks
     * @param uses     the attempts that ran on it; together they may not ask for more than it has
     *                 at any moment (the scheduler never places so), and if the figures say they
     *                 did, the parts are scaled down so that they never exceed the charge
     */
    public static Result allocate(InstanceCharge charge, Resources capacity, List<Use> uses, Weights weights) {
        double billed = charge.billedSeconds();
        Map<String, Double> fractions = new LinkedHashMap<>();
        double total = 0;
        for (Use u : uses) {
            double f = billed <= 0 ? 0 : share(u.request(), capacity, weights) * overlapSeconds(u, charge) / billed;
            fractions.merge(u.attempt(), f, Double::sum);
            total += f;
        }
        double scale = total > 1 ? 1 / total : 1;
        Map<String, Long> parts = new LinkedHashMap<>();
        long allocated = 0;
        for (Map.Entry<String, Double> e : fractions.entrySet()) {
            long part = (long) Math.floor(charge.microUsd() * e.getValue() * scale);
            part = Math.max(0, Math.min(part, charge.microUsd() - allocated));
            parts.put(e.getKey(), part);
            allocated += part;
        }
        return new Result(parts, charge.microUsd() - allocated);
    }

    /** A request's weighted share of the instance, each dimension at most the whole of it. */
    static double share(Resources request, Resources capacity, Weights w) {
        double cpu = capacity.cpuMillis() <= 0 ? 0 : Math.min(1, (double) request.cpuMillis() / capacity.cpuMillis());
        double memory = capacity.memoryMib() <= 0 ? 0 : Math.min(1, (double) request.memoryMib() / capacity.memoryMib());
        return (w.cpu() * cpu + w.memory() * memory) / (w.cpu() + w.memory());
    }

    /** Seconds of the attempt within the instance's billed time. */
    static double overlapSeconds(Use u, InstanceCharge charge) {
        Instant from = u.start().isAfter(charge.launched()) ? u.start() : charge.launched();
        Instant to = u.end().isBefore(charge.billedUntil()) ? u.end() : charge.billedUntil();
        if (!to.isAfter(from)) return 0;
        Duration d = Duration.between(from, to);
        return d.getSeconds() + d.getNano() / 1e9;
    }
}
