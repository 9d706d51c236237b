package dev.spillway.core.cost;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Resources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a job will cost, before it is submitted: where its tasks would run as things stand, the
 * expected cost, and the not-to-exceed cost.
 *
 * <p>The job runs over the slots it would get: those on nodes already there (free now), and those
 * of the cloud instances the burst planner would buy (launched once their pool's burstAfter has
 * passed, if tasks still wait then; taking tasks once booted). Each task takes the slot that frees
 * first. An instance lives from its launch until its last task ends and its pool's scale-down
 * delay has passed.
 *
 * <ul>
 * <li><b>Expected</b>: each task runs its expected runtime once; instances boot in their pool's
 *     usual time.</li>
 * <li><b>Not to exceed</b>: each task runs every attempt its retry policy allows (1 + max
 *     retries) to its wall-time limit; instances take their pool's whole join timeout to boot.
 *     Without a wall-time limit there is no bound, and the quote says so.</li>
 * </ul>
 * Instances are billed as the ledger bills them ({@link Billing}); work on nodes already there at
 * its slot's rate: the rate card on-prem, the node's price × the task's dominant share on a cloud
 * node. Pure.
 */
public final class Quote {

    private Quote() {
    }

    /** The job: how many tasks, what each asks for, its limits. {@code maxRuntime} and {@code expectedRuntime} may be null. */
    public record Job(int tasks, Resources request, Duration maxRuntime, Duration expectedRuntime, int maxRetries) {
        public Job {
            if (tasks < 1) throw new IllegalArgumentException("a job has a task at least");
            if (maxRetries < 0) throw new IllegalArgumentException("max retries " + maxRetries);
        }
    }

    /** Slots on nodes already there: how many of the job's tasks fit on them now, what one task costs there per hour, whether they are cloud nodes. */
    public record Slots(String pool, int tasks, double usdPerTaskHour, boolean cloud) {
        public Slots(String pool, int tasks, double usdPerTaskHour) {
            this(pool, tasks, usdPerTaskHour, false);
        }
    }

    /** Instances the burst planner would buy: an offering, how many, how many of the job's tasks they hold at once together. */
    public record Purchase(Offering offering, int instances, int tasks) {
    }

    /**
     * A cloud pool's timing: how long its waiting tasks wait before it bursts, how long its instances take to boot (usually,
     * and at most: the join timeout), and how long they stay idle before they go.
     */
    public record PoolTimes(Duration burstAfter, Duration boot, Duration joinTimeout, Duration scaleDownAfter) {
    }

    /**
     * @param placedNow        tasks that fit on nodes already there, by pool
     * @param burst            tasks covered by new instances
     * @param waiting          tasks that get no slot now and wait for one to free up
     * @param expectedMicroUsd null when neither runtime is known
     * @param notToExceedMicroUsd null when the job has no wall-time limit ({@code unbounded} says why)
     * @param notToExceedCloudMicroUsd the part of it spent in the cloud (new instances and cloud nodes already there)
     * @param expectedStart    from now until the first task starts (null: no slot now, or no runtime known)
     * @param expectedFinish   from now until the last task ends (null: unknown)
     */
    public record Result(Map<String, Integer> placedNow, int burst, int waiting, List<Purchase> purchases, Long expectedMicroUsd,
                         Long notToExceedMicroUsd, Long notToExceedCloudMicroUsd, String unbounded, String runtimeBasis, Duration expectedStart,
                         Duration expectedFinish, long egressMicroUsd) {
    }

    /**
     * @param slots        the slots on nodes there now, in the order the job would fill them (cheapest first)
     * @param purchases    the instances the planner would buy for the tasks the slots do not hold
     * @param runtimeBasis where {@code expectedRuntime} came from, for the reader
     */
    public static Result of(Job job, List<Slots> slots, List<Purchase> purchases, Map<String, PoolTimes> times, Billing billing,
                            String runtimeBasis) {
        return of(job, slots, purchases, times, billing, runtimeBasis, null, 0);
    }

    /**
     * As {@link #of(Job, List, List, Map, Billing, String)}, with the price of a task that finds no slot at all now: it waits
     * and runs later somewhere, and is priced at {@code later} (the dearest way it could run; null: nothing, no way known);
     * and what moving the job's data to where it would run costs, {@code egressMicroUsd}, once, in both figures (a cloud cost).
     */
    public static Result of(Job job, List<Slots> slots, List<Purchase> purchases, Map<String, PoolTimes> times, Billing billing,
                            String runtimeBasis, Slots later, long egressMicroUsd) {
        int onNodes = slots.stream().mapToInt(Slots::tasks).sum();
        int inCloud = purchases.stream().mapToInt(Purchase::tasks).sum();
        Map<String, Integer> placed = new LinkedHashMap<>();
        int left = Math.min(onNodes, job.tasks());
        for (Slots s : slots) {
            int n = Math.min(s.tasks(), left);
            if (n > 0) placed.merge(s.pool(), n, Integer::sum);
            left -= n;
        }
        int burst = Math.min(inCloud, job.tasks() - Math.min(onNodes, job.tasks()));
        int waiting = job.tasks() - Math.min(onNodes, job.tasks()) - burst;

        Duration expected = job.expectedRuntime() != null ? job.expectedRuntime() : job.maxRuntime();
        String basis = job.expectedRuntime() != null ? runtimeBasis : job.maxRuntime() != null ? "maxRuntime" : "none";
        Run likely = expected == null ? null : run(job, slots, purchases, times, billing, expected, 1, false, later);
        Run worst = job.maxRuntime() == null ? null
                : run(job, slots, purchases, times, billing, job.maxRuntime(), 1 + job.maxRetries(), true, later);
        String unbounded = job.maxRuntime() == null
                ? "spec.task.max_runtime is not set: without a wall-time limit a task may run, and cost, for ever" : "";
        return new Result(placed, burst, waiting, List.copyOf(purchases), likely == null ? null : likely.microUsd() + egressMicroUsd,
                worst == null ? null : worst.microUsd() + egressMicroUsd, worst == null ? null : worst.cloudMicroUsd() + egressMicroUsd, unbounded, basis,
                likely == null ? null : likely.firstStart(), likely == null ? null : likely.lastEnd(), egressMicroUsd);
    }

    /** One way the job could go: what it costs, when its first task starts and its last ends (null when no slot ever comes). */
    private record Run(long microUsd, long cloudMicroUsd, Duration firstStart, Duration lastEnd) {
    }

    /**
     * The job run over its slots: each task, in turn, takes the slot that frees first (a node's before an instance's at the
     * same moment), for {@code attempts} × {@code runtime}. Node slots are free now; the instances are launched once their
     * pool's burstAfter has passed, if tasks still wait for a slot then, and take tasks once booted ({@code worst}: after the
     * whole join timeout). An instance lives from its launch until its last task ends and its pool's scale-down delay has
     * passed, and is charged as billed.
     */
    private static Run run(Job job, List<Slots> slots, List<Purchase> purchases, Map<String, PoolTimes> times, Billing billing, Duration runtime,
                           int attempts, boolean worst, Slots later) {
        long taskNanos = runtime.toNanos() * attempts;
        // A slot: [free at (ns), node slot index or -1 - instance index]; node slots win ties.
        java.util.PriorityQueue<long[]> free = new java.util.PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(b[1], a[1]));
        List<Slots> nodeSlots = new ArrayList<>();
        for (Slots s : slots) {
            for (int i = 0; i < s.tasks(); i++) {
                free.add(new long[] {0, nodeSlots.size()});
                nodeSlots.add(s);
            }
        }
        // Would the burst happen: do tasks still wait when the pools' burstAfter has passed?
        long burstAt = purchases.stream().mapToLong(p -> times.get(p.offering().pool()).burstAfter().toNanos()).min().orElse(0);
        int startedBeforeBurst = 0;
        if (!free.isEmpty()) {
            for (long[] slot : free) startedBeforeBurst += (int) Math.min(job.tasks(), burstAt / Math.max(1, taskNanos) + (burstAt % Math.max(1, taskNanos) == 0 ? 0 : 1));
        }
        List<Offering> instances = new ArrayList<>();
        List<long[]> lives = new ArrayList<>(); // launch, last end
        if (startedBeforeBurst < job.tasks()) {
            for (Purchase p : purchases) {
                PoolTimes t = Objects.requireNonNull(times.get(p.offering().pool()), "times of pool " + p.offering().pool());
                long launch = t.burstAfter().toNanos();
                long ready = launch + (worst ? t.joinTimeout() : t.boot()).toNanos();
                for (int i = 0; i < p.instances(); i++) {
                    int holds = p.tasks() / p.instances() + (i < p.tasks() % p.instances() ? 1 : 0);
                    int index = instances.size();
                    instances.add(p.offering());
                    lives.add(new long[] {launch, ready});
                    for (int k = 0; k < holds; k++) free.add(new long[] {ready, -1 - index});
                }
            }
        }
        if (free.isEmpty()) {
            // No slot now: every task waits, and runs later at the price given for that.
            if (later == null) return new Run(0, 0, null, null);
            long each = Math.round(later.usdPerTaskHour() * taskNanos / 3.6e12 * 1_000_000);
            long all = each * job.tasks();
            return new Run(all, later.cloud() ? all : 0, null, null);
        }
        double micro = 0;
        double cloudMicro = 0;
        long first = Long.MAX_VALUE;
        long last = 0;
        for (int task = 0; task < job.tasks(); task++) {
            long[] slot = free.poll();
            long start = slot[0];
            long end = start + taskNanos;
            first = Math.min(first, start);
            last = Math.max(last, end);
            if (slot[1] >= 0) {
                Slots on = nodeSlots.get((int) slot[1]);
                double part = on.usdPerTaskHour() * taskNanos / 3.6e12 * 1_000_000;
                micro += part;
                if (on.cloud()) cloudMicro += part;
            } else {
                long[] life = lives.get((int) (-1 - slot[1]));
                life[1] = Math.max(life[1], end);
            }
            free.add(new long[] {end, slot[1]});
        }
        long bought = 0;
        for (int i = 0; i < instances.size(); i++) {
            Offering o = instances.get(i);
            long[] life = lives.get(i);
            long until = life[1] + times.get(o.pool()).scaleDownAfter().toNanos();
            bought += InstanceCharge.of("quote", o.pool(), java.time.Instant.EPOCH.plusNanos(life[0]), java.time.Instant.EPOCH.plusNanos(until),
                    o.priceUsdPerHour(), billing).microUsd();
        }
        return new Run(Math.round(micro) + bought, Math.round(cloudMicro) + bought, Duration.ofNanos(first), Duration.ofNanos(last));
    }

    /** The purchases of a plan: its instances grouped by offering, with the tasks they hold. */
    public static List<Purchase> purchases(dev.spillway.core.burst.ProvisionPlan plan) {
        Map<String, int[]> counts = new LinkedHashMap<>();
        Map<String, Offering> offerings = new LinkedHashMap<>();
        for (dev.spillway.core.burst.ProvisionPlan.Instance i : plan.instances()) {
            offerings.putIfAbsent(i.offering().id(), i.offering());
            int[] c = counts.computeIfAbsent(i.offering().id(), k -> new int[2]);
            c[0]++;
            c[1] += i.tasks().size();
        }
        List<Purchase> out = new ArrayList<>();
        counts.forEach((id, c) -> out.add(new Purchase(offerings.get(id), c[0], c[1])));
        return out;
    }
}
