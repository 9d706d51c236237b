package dev.spillway.core.burst;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns demand the on-prem pools cannot serve into the cheapest set of cloud instances that
 * covers it, within each pool's instance and spend limits: variable-size bin packing with costs.
 * Pure and deterministic.
 *
 * <p>Objective, in order: cover as many tasks as the limits allow, then pay the least per hour.
 * Small problems are solved exactly (branch and bound). Larger ones take the best of these
 * candidates, each after swapping every instance for the cheapest one of its pool that still
 * holds its load:
 * <ul>
 *   <li><b>LP-guided packing</b> ({@link PatternPacking}): the linear relaxation over instance
 *       loads, solved by column generation, rounded down, the remainder packed greedily; it mixes
 *       task shapes on an instance the way the optimum does, and is the usual winner on large bursts;</li>
 *   <li><b>cost-aware packing</b> (and, when pool limits leave demand uncovered, the same packing
 *       ranked by demand per instance instead of per dollar): repeatedly pick the instance (offering and a greedy load, densest
 *       tasks first) that buys the most demand per dollar, valuing each task at the cheapest price of its
 *       dominant share of any offering it may use, and launch as many copies of that load as the
 *       demand repeats;</li>
 *   <li><b>first-fit decreasing</b> with the cheapest offering that fits each new bin (the usual
 *       autoscaler packing), so the plan is never worse than it.</li>
 * </ul>
 * Offerings that another offering of the same pool beats outright (no dearer, no smaller, same
 * jurisdiction, on-demand if it is) are left out first.
 */
public final class BurstPlanner {

    /** Up to this many tasks (and {@link #EXACT_MAX_OFFERINGS} offerings) are solved exactly. */
    public static final int EXACT_MAX_TASKS = 7;
    public static final int EXACT_MAX_OFFERINGS = 12;

    public ProvisionPlan plan(List<Demand> demand, List<Offering> offerings, List<PoolLimits> limits) {
        Problem p = new Problem(demand, offerings, limits);
        if (p.coverable.isEmpty()) return p.result(List.of());
        if (p.coverable.size() <= EXACT_MAX_TASKS && p.offerings.length <= EXACT_MAX_OFFERINGS) {
            return p.result(new Exact(p).solve());
        }
        List<Bin> best = rightSize(p, firstFitDecreasing(p));
        List<Bin> packed = rightSize(p, new CostAwarePacking(p, p.coverable, false).solve(p.budgets()));
        if (better(packed, best)) best = packed;
        List<Bin> guided = rightSize(p, new PatternPacking(p).solve());
        if (better(guided, best)) best = guided;
        if (covered(best) < p.coverable.size()) {
            // Limits bind: the cheapest-per-dollar instances may run out before the demand does;
            // packing the most demand per instance may cover more.
            List<Bin> dense = rightSize(p, new CostAwarePacking(p, p.coverable, true).solve(p.budgets()));
            if (better(dense, best)) best = dense;
        }
        return p.result(best);
    }

    /** The first-fit-decreasing plan alone: the baseline the planner must never lose to. */
    public ProvisionPlan firstFitDecreasing(List<Demand> demand, List<Offering> offerings, List<PoolLimits> limits) {
        Problem p = new Problem(demand, offerings, limits);
        return p.result(firstFitDecreasing(p));
    }

    static boolean better(List<Bin> a, List<Bin> b) {
        int ca = covered(a);
        int cb = covered(b);
        if (ca != cb) return ca > cb;
        return cost(a) <= cost(b) + 1e-9;
    }

    static int covered(List<Bin> bins) {
        int n = 0;
        for (Bin b : bins) n += b.tasks.size();
        return n;
    }

    static double cost(List<Bin> bins) {
        double c = 0;
        for (Bin b : bins) c += b.offering.priceUsdPerHour();
        return c;
    }

    // ---- the problem, normalised ---------------------------------------------------------------

    /** An open instance during planning. */
    static final class Bin {
        final Offering offering;
        long cpu;
        long mem;
        int gpu;
        final List<Demand> tasks = new ArrayList<>();

        Bin(Offering offering) {
            this.offering = offering;
            this.cpu = offering.shape().cpuMillis();
            this.mem = offering.shape().memoryMib();
            this.gpu = offering.shape().gpus();
        }

        Bin copy() {
            Bin b = new Bin(offering);
            b.cpu = cpu;
            b.mem = mem;
            b.gpu = gpu;
            b.tasks.addAll(tasks);
            return b;
        }

        boolean fits(Resources r) {
            return r.cpuMillis() <= cpu && r.memoryMib() <= mem && r.gpus() <= gpu;
        }

        void add(Demand d) {
            cpu -= d.request().cpuMillis();
            mem -= d.request().memoryMib();
            gpu -= d.request().gpus();
            tasks.add(d);
        }

        void remove(Demand d) {
            cpu += d.request().cpuMillis();
            mem += d.request().memoryMib();
            gpu += d.request().gpus();
            tasks.remove(tasks.size() - 1);
        }
    }

    /** Per-pool budget while planning. */
    static final class Budget {
        int instances;
        double spend;

        Budget(PoolLimits l) {
            this.instances = l.maxNewInstances();
            this.spend = l.spendHeadroomUsdPerHour();
        }

        boolean allows(Offering o, int copies) {
            return instances >= copies && spend - o.priceUsdPerHour() * copies >= -1e-9;
        }

        void take(Offering o, int copies) {
            instances -= copies;
            spend -= o.priceUsdPerHour() * copies;
        }

        void give(Offering o) {
            instances += 1;
            spend += o.priceUsdPerHour();
        }
    }

    static final class Problem {
        final Offering[] offerings;
        final Map<String, PoolLimits> limits = new HashMap<>();
        final List<Demand> coverable = new ArrayList<>();
        final Map<TaskRef, String> notCovered = new LinkedHashMap<>();
        /** Cheapest price of a task's dominant share over the offerings it may use: a lower bound of its cost. */
        final Map<Demand, Double> fairValue = new HashMap<>();

        Problem(List<Demand> demand, List<Offering> all, List<PoolLimits> poolLimits) {
            poolLimits.forEach(l -> limits.put(l.pool(), l));
            this.offerings = undominated(all.stream()
                    .filter(o -> limits.containsKey(o.pool()) && limits.get(o.pool()).allows(o))
                    .sorted(Comparator.comparing(Offering::id))
                    .toArray(Offering[]::new));
            Map<Object, Double> byClass = new HashMap<>();
            for (Demand d : demand) {
                Object key = d.classKey();
                Double value = byClass.computeIfAbsent(key, k -> fairValue(d));
                if (value.isInfinite()) {
                    notCovered.put(d.task(), whyNoOffering(d, all));
                } else {
                    coverable.add(d);
                    fairValue.put(d, value);
                }
            }
        }

        private double fairValue(Demand d) {
            double best = Double.POSITIVE_INFINITY;
            for (Offering o : offerings) {
                if (d.mayUse(o)) best = Math.min(best, o.priceUsdPerHour() * dominantShare(d.request(), o.shape()));
            }
            return best;
        }

        private String whyNoOffering(Demand d, List<Offering> all) {
            boolean anyBigEnough = all.stream().anyMatch(o -> o.shape().covers(d.request()));
            if (!anyBigEnough) return "no cloud offering has " + d.request() + " on one instance";
            boolean inJurisdiction = all.stream().anyMatch(o -> o.shape().covers(d.request())
                    && (d.jurisdictions().isEmpty() || d.jurisdictions().contains(o.jurisdiction())));
            if (!inJurisdiction) return "no large enough cloud offering in jurisdictions " + d.jurisdictions();
            if (!d.spotTolerant() && all.stream().allMatch(Offering::spot)) return "the task does not tolerate spot and only spot is offered";
            return "no cloud pool allows an offering that fits (instance types allowed by the pools)";
        }

        Map<String, Budget> budgets() {
            Map<String, Budget> b = new HashMap<>();
            limits.forEach((pool, l) -> b.put(pool, new Budget(l)));
            return b;
        }

        ProvisionPlan result(List<Bin> bins) {
            Map<TaskRef, String> left = new LinkedHashMap<>(notCovered);
            java.util.Set<TaskRef> covered = new java.util.HashSet<>();
            List<ProvisionPlan.Instance> instances = new ArrayList<>();
            for (Bin b : bins) {
                List<TaskRef> refs = new ArrayList<>();
                for (Demand d : b.tasks) {
                    refs.add(d.task());
                    covered.add(d.task());
                }
                instances.add(new ProvisionPlan.Instance(b.offering, refs));
            }
            for (Demand d : coverable) {
                if (!covered.contains(d.task())) left.put(d.task(), "the cloud pools' limits are reached (max instances or spend cap)");
            }
            return new ProvisionPlan(instances, left);
        }
    }

    /**
     * Tasks grouped into classes that are interchangeable for planning (same request,
     * jurisdictions and spot tolerance), largest first; within a class, in task order.
     */
    static List<List<Demand>> classesOf(List<Demand> demand) {
        Map<Object, List<Demand>> byKey = new LinkedHashMap<>();
        List<Demand> sorted = new ArrayList<>(demand);
        sorted.sort(largestFirst());
        for (Demand d : sorted) byKey.computeIfAbsent(d.classKey(), k -> new ArrayList<>()).add(d);
        return new ArrayList<>(byKey.values());
    }

    /**
     * Offerings no other offering of the same pool beats outright: one that is no dearer, at least
     * as large in every dimension, in the same jurisdiction, and on-demand whenever this one is
     * (so every task that may use this one may use it). Leaving the beaten ones out changes no optimum.
     */
    static Offering[] undominated(Offering[] all) {
        List<Offering> kept = new ArrayList<>();
        for (Offering o : all) {
            boolean beaten = false;
            for (Offering q : all) {
                if (q == o || !q.pool().equals(o.pool()) || !q.jurisdiction().equals(o.jurisdiction()) || (q.spot() && !o.spot())) continue;
                boolean noDearer = q.priceUsdPerHour() < o.priceUsdPerHour()
                        || (q.priceUsdPerHour() == o.priceUsdPerHour() && q.id().compareTo(o.id()) < 0);
                if (noDearer && q.shape().covers(o.shape())) {
                    beaten = true;
                    break;
                }
            }
            if (!beaten) kept.add(o);
        }
        return kept.toArray(Offering[]::new);
    }

    /** The largest fraction of an offering's shape the request takes, over cpu, memory and gpus. */
    static double dominantShare(Resources r, Resources shape) {
        double s = Math.max((double) r.cpuMillis() / shape.cpuMillis(), (double) r.memoryMib() / shape.memoryMib());
        if (r.gpus() > 0) s = Math.max(s, (double) r.gpus() / shape.gpus());
        return s;
    }

    /** Sort key for "decreasing": size relative to a fixed reference so the order is the same for every bin. */
    private static Comparator<Demand> largestFirst() {
        return Comparator.comparingDouble((Demand d) -> -(d.request().cpuMillis() / 1000.0 + d.request().memoryMib() / 4096.0
                        + d.request().gpus() * 8.0))
                .thenComparing(Demand::task);
    }

    /**
     * Swaps each instance for the cheapest offering of the same pool that still holds its load and
     * suits all its tasks (typically the last, partly filled instance of a repeated load). Never
     * adds instances or spend, so every limit still holds.
     */
    static List<Bin> rightSize(Problem p, List<Bin> bins) {
        List<Bin> out = new ArrayList<>(bins.size());
        for (Bin b : bins) {
            long cpu = b.offering.shape().cpuMillis() - b.cpu;
            long mem = b.offering.shape().memoryMib() - b.mem;
            int gpu = b.offering.shape().gpus() - b.gpu;
            Resources load = new Resources(cpu, mem, gpu);
            Offering best = b.offering;
            for (Offering o : p.offerings) {
                if (!o.pool().equals(b.offering.pool()) || o.priceUsdPerHour() >= best.priceUsdPerHour() || !o.shape().covers(load)) continue;
                boolean suits = true;
                for (Demand d : b.tasks) suits &= d.mayUse(o);
                if (suits) best = o;
            }
            if (best == b.offering) {
                out.add(b);
            } else {
                Bin smaller = new Bin(best);
                b.tasks.forEach(smaller::add);
                out.add(smaller);
            }
        }
        return out;
    }

    // ---- first-fit decreasing ------------------------------------------------------------------

    private static List<Bin> firstFitDecreasing(Problem p) {
        List<Demand> order = new ArrayList<>(p.coverable);
        order.sort(largestFirst());
        Map<String, Budget> budgets = p.budgets();
        List<Bin> bins = new ArrayList<>();
        // Bins only fill up: a bin that cannot take a task of some class never will, so each class
        // resumes its first-fit scan where the previous task of the class found room.
        Map<Object, Integer> scanFrom = new HashMap<>();
        for (Demand d : order) {
            Object key = d.classKey();
            Bin into = null;
            int b = scanFrom.getOrDefault(key, 0);
            for (; b < bins.size(); b++) {
                Bin bin = bins.get(b);
                if (d.mayUse(bin.offering) && bin.fits(d.request())) {
                    into = bin;
                    break;
                }
            }
            scanFrom.put(key, b);
            if (into == null) {
                Offering cheapest = null;
                for (Offering o : p.offerings) {
                    if (!d.mayUse(o) || !budgets.get(o.pool()).allows(o, 1)) continue;
                    if (cheapest == null || o.priceUsdPerHour() < cheapest.priceUsdPerHour()) cheapest = o;
                }
                if (cheapest == null) continue;
                budgets.get(cheapest.pool()).take(cheapest, 1);
                into = new Bin(cheapest);
                bins.add(into);
            }
            into.add(d);
        }
        return bins;
    }

    // ---- cost-aware packing --------------------------------------------------------------------

    static final class CostAwarePacking {
        private final Problem p;
        /** Task classes (same request, jurisdictions, spot tolerance) with the tasks still to cover. */
        private final List<List<Demand>> classes = new ArrayList<>();
        private final double[] classValue;
        /** Rank loads by value per instance instead of value per dollar (when instance limits bind). */
        private final boolean perInstance;

        /** Packs {@code demand} (some of the problem's coverable tasks). */
        CostAwarePacking(Problem p, List<Demand> demand, boolean perInstance) {
            this.p = p;
            this.perInstance = perInstance;
            classes.addAll(classesOf(demand));
            classValue = new double[classes.size()];
            for (int c = 0; c < classes.size(); c++) classValue[c] = p.fairValue.get(classes.get(c).get(0));
        }

        /** Packs within {@code budgets}, which it draws down. */
        List<Bin> solve(Map<String, Budget> budgets) {
            int[] next = new int[classes.size()]; // tasks of class c before next[c] are covered
            List<Bin> bins = new ArrayList<>();
            int[] pattern = new int[classes.size()];
            int[] bestPattern = new int[classes.size()];
            while (true) {
                Offering best = null;
                double bestEfficiency = 0;
                for (Offering o : p.offerings) {
                    if (!budgets.get(o.pool()).allows(o, 1)) continue;
                    double value = fill(o, next, pattern);
                    if (value <= 0) continue;
                    double efficiency = perInstance ? value - 1e-6 * o.priceUsdPerHour() : value / o.priceUsdPerHour();
                    if (efficiency > bestEfficiency + 1e-12) {
                        bestEfficiency = efficiency;
                        best = o;
                        System.arraycopy(pattern, 0, bestPattern, 0, pattern.length);
                    }
                }
                if (best == null) return bins;
                // Launch as many copies of this load as the remaining demand and the budget allow.
                Budget budget = budgets.get(best.pool());
                int copies = budget.instances;
                if (!Double.isInfinite(budget.spend)) copies = (int) Math.min(copies, Math.floor(budget.spend / best.priceUsdPerHour() + 1e-9));
                for (int c = 0; c < classes.size(); c++) {
                    if (bestPattern[c] > 0) copies = Math.min(copies, (classes.get(c).size() - next[c]) / bestPattern[c]);
                }
                copies = Math.max(copies, 1);
                budget.take(best, copies);
                for (int k = 0; k < copies; k++) {
                    Bin bin = new Bin(best);
                    for (int c = 0; c < classes.size(); c++) {
                        for (int i = 0; i < bestPattern[c]; i++) bin.add(classes.get(c).get(next[c]++));
                    }
                    bins.add(bin);
                }
            }
        }

        /**
         * A greedy load of one instance of {@code o} from the remaining demand: classes taken by
         * value per share of the instance they use (densest first), each as many as fit; returns
         * the load's value.
         */
        private double fill(Offering o, int[] next, int[] pattern) {
            long cpu = o.shape().cpuMillis();
            long mem = o.shape().memoryMib();
            int gpu = o.shape().gpus();
            double value = 0;
            Arrays.fill(pattern, 0);
            Integer[] order = densestFirst(o, next);
            for (Integer c : order) {
                int left = classes.get(c).size() - next[c];
                Demand d = classes.get(c).get(next[c]);
                Resources r = d.request();
                long k = left;
                if (r.cpuMillis() > 0) k = Math.min(k, cpu / r.cpuMillis());
                if (r.memoryMib() > 0) k = Math.min(k, mem / r.memoryMib());
                if (r.gpus() > 0) k = Math.min(k, gpu / r.gpus());
                if (k <= 0) continue;
                pattern[c] = (int) k;
                cpu -= k * r.cpuMillis();
                mem -= k * r.memoryMib();
                gpu -= (int) k * r.gpus();
                value += k * classValue[c];
            }
            return value;
        }

        /** The classes with tasks left that may use {@code o}, by value per dominant share of it, highest first. */
        private Integer[] densestFirst(Offering o, int[] next) {
            List<Integer> usable = new ArrayList<>();
            for (int c = 0; c < classes.size(); c++) {
                if (classes.get(c).size() - next[c] > 0 && classes.get(c).get(next[c]).mayUse(o)) usable.add(c);
            }
            Integer[] order = usable.toArray(Integer[]::new);
            Arrays.sort(order, Comparator.comparingDouble((Integer c) ->
                    -classValue[c] / dominantShare(classes.get(c).get(0).request(), o.shape())).thenComparingInt(c -> c));
            return order;
        }
    }

    // ---- exact, for small problems ----------------------------------------------------------------

    private static final class Exact {
        private final Problem p;
        private final Demand[] tasks;
        /**
         * Lower bound of the cost of covering tasks[i..]: per dimension, each task's amount at the
         * cheapest unit price (USD per cpu, per MiB, per gpu) among offerings it may use; the
         * largest of the three. (A bin of price P and capacity C in a dimension holds at most C of
         * it, so it costs at least its load times P/C there.)
         */
        private final double[][] unitSuffix;
        /** The same per-dimension amounts for the tasks covered so far on the current branch. */
        private final double[] coveredUnits = new double[3];
        private final double[][] unitOf;
        private final Map<String, Budget> budgets;
        private final List<Bin> open = new ArrayList<>();
        private List<Bin> best = List.of();
        private int bestCovered = -1;
        private double bestCost = Double.POSITIVE_INFINITY;

        Exact(Problem p) {
            this.p = p;
            this.tasks = p.coverable.stream().sorted(largestFirst()).toArray(Demand[]::new);
            this.unitSuffix = new double[3][tasks.length + 1];
            this.unitOf = new double[tasks.length][3];
            for (int i = tasks.length - 1; i >= 0; i--) {
                Resources r = tasks[i].request();
                double cpu = Double.POSITIVE_INFINITY;
                double mem = Double.POSITIVE_INFINITY;
                double gpu = Double.POSITIVE_INFINITY;
                for (Offering o : p.offerings) {
                    if (!tasks[i].mayUse(o)) continue;
                    cpu = Math.min(cpu, o.priceUsdPerHour() / o.shape().cpuMillis());
                    mem = Math.min(mem, o.priceUsdPerHour() / o.shape().memoryMib());
                    if (o.shape().gpus() > 0) gpu = Math.min(gpu, o.priceUsdPerHour() / o.shape().gpus());
                }
                unitOf[i][0] = r.cpuMillis() * cpu;
                unitOf[i][1] = r.memoryMib() * mem;
                unitOf[i][2] = r.gpus() > 0 ? r.gpus() * gpu : 0;
                for (int k = 0; k < 3; k++) unitSuffix[k][i] = unitSuffix[k][i + 1] + unitOf[i][k];
            }
            this.budgets = p.budgets();
        }

        List<Bin> solve() {
            search(0, 0, 0);
            return best;
        }

        private void search(int i, int covered, double cost) {
            int possible = covered + tasks.length - i;
            if (possible < bestCovered) return;
            if (possible == bestCovered) {
                // Covering everything left: the whole plan costs at least what is spent so far, and at
                // least the unit-price bound of all the tasks it covers (open bins' spare room included).
                double bound = cost;
                for (int k = 0; k < 3; k++) bound = Math.max(bound, coveredUnits[k] + unitSuffix[k][i]);
                if (bound >= bestCost - 1e-9) return;
            }
            if (i == tasks.length) {
                if (covered > bestCovered || cost < bestCost - 1e-9) {
                    bestCovered = covered;
                    bestCost = cost;
                    best = open.stream().map(Bin::copy).toList();
                }
                return;
            }
            Demand d = tasks[i];
            Set<Object> tried = new java.util.HashSet<>();
            // By index: deeper levels append to and remove from the list, leaving these entries in place.
            for (int bi = 0, n = open.size(); bi < n; bi++) {
                Bin b = open.get(bi);
                if (!d.mayUse(b.offering) || !b.fits(d.request())) continue;
                if (!tried.add(List.of(b.offering.id(), b.cpu, b.mem, b.gpu))) continue; // an identical bin was tried
                b.add(d);
                cover(i, 1);
                search(i + 1, covered + 1, cost);
                cover(i, -1);
                b.remove(d);
            }
            for (Offering o : p.offerings) {
                Budget budget = budgets.get(o.pool());
                if (!d.mayUse(o) || !budget.allows(o, 1)) continue;
                Bin b = new Bin(o);
                b.add(d);
                budget.take(o, 1);
                open.add(b);
                cover(i, 1);
                search(i + 1, covered + 1, cost + o.priceUsdPerHour());
                cover(i, -1);
                open.remove(open.size() - 1);
                budget.give(o);
            }
            search(i + 1, covered, cost); // leave it out (only wins when limits bind)
        }

        private void cover(int task, int sign) {
            for (int k = 0; k < 3; k++) coveredUnits[k] += sign * unitOf[task][k];
        }
    }
}
