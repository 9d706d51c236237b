package dev.spillway.core.burst;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A burst planning problem, normalised for the packing strategies: the offerings the pools allow
 * (beaten ones left out, sorted by id), the tasks some offering can hold, why the others cannot be
 * covered, and what each task is worth. Also the mutable {@link Bin} and {@link Budget} the
 * strategies pack with, and {@link #result} turning bins into a {@link ProvisionPlan}.
 */
final class PlanningProblem {

    /** The offerings the pools allow, no other offering of the same pool beating them outright; by id. */
    final Offering[] offerings;
    final Map<String, PoolLimits> limits = new HashMap<>();
    /** Tasks at least one allowed offering may hold, in demand order. */
    final List<Demand> coverable = new ArrayList<>();
    /** Tasks no allowed offering may hold, with the reason. */
    final Map<TaskRef, String> notCovered = new LinkedHashMap<>();
    /** Cheapest price (USD/hour) of a task's dominant share over the offerings it may use: a lower bound of its cost. */
    final Map<Demand, Double> fairValue = new HashMap<>();

    PlanningProblem(List<Demand> demand, List<Offering> all, List<PoolLimits> poolLimits) {
        poolLimits.forEach(l -> limits.put(l.pool(), l));
        this.offerings = undominated(all.stream()
                .filter(o -> limits.containsKey(o.pool()) && limits.get(o.pool()).allows(o))
                .sorted(Comparator.comparing(Offering::id))
                .toArray(Offering[]::new));
        Map<Object, Double> byClass = new HashMap<>();
        Map<Object, String> whyByClass = new HashMap<>();
        for (Demand d : demand) {
            Object key = d.classKey();
            Double value = byClass.computeIfAbsent(key, k -> fairValue(d));
            if (value.isInfinite()) {
                notCovered.put(d.task(), whyByClass.computeIfAbsent(key, k -> whyNoOffering(d, all)));
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
        // Every offering that would fit is refused by a policy: say which rule refused the cheapest of them.
        Offering cheapestRefused = all.stream().filter(o -> o.shape().covers(d.request()) && d.mayRunIn(o.pool(), o.jurisdiction(), o.spot()))
                .filter(o -> d.refused().containsKey(o.id()))
                .min(Comparator.comparingDouble(Offering::priceUsdPerHour).thenComparing(Offering::id)).orElse(null);
        boolean anyAllowed = all.stream().anyMatch(o -> o.shape().covers(d.request()) && d.mayRunIn(o.pool(), o.jurisdiction(), o.spot())
                && !d.refused().containsKey(o.id()));
        if (cheapestRefused != null && !anyAllowed) {
            return "the policies refuse every cloud offering that fits, e.g. " + cheapestRefused.id() + ": " + d.refused().get(cheapestRefused.id());
        }
        return "no cloud pool allows an offering that fits (instance types allowed by the pools)";
    }

    /** A fresh budget per pool, at its limits: each strategy draws down its own. */
    Map<String, Budget> budgets() {
        Map<String, Budget> b = new HashMap<>();
        limits.forEach((pool, l) -> b.put(pool, new Budget(l)));
        return b;
    }

    /** The plan launching {@code bins}; coverable tasks on none of them are reported as left out by the limits. */
    ProvisionPlan result(List<Bin> bins) {
        Map<TaskRef, String> left = new LinkedHashMap<>(notCovered);
        Set<TaskRef> covered = new HashSet<>();
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
    static Comparator<Demand> largestFirst() {
        return Comparator.comparingDouble((Demand d) -> -(d.request().cpuMillis() / 1000.0 + d.request().memoryMib() / 4096.0
                        + d.request().gpus() * 8.0))
                .thenComparing(Demand::task);
    }

    /** An instance being planned: its offering, the room left on it (cpu millis, MiB, gpus) and its tasks. */
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

        /** Undoes the last {@link #add}, which must have added {@code d}. */
        void remove(Demand d) {
            cpu += d.request().cpuMillis();
            mem += d.request().memoryMib();
            gpu += d.request().gpus();
            tasks.remove(tasks.size() - 1);
        }
    }

    /** What one pool still allows while planning: instances and hourly spend (USD/hour, infinite when uncapped). */
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
}
