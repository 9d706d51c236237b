package dev.spillway.core.burst;

import dev.spillway.core.burst.PlanningProblem.Bin;
import dev.spillway.core.burst.PlanningProblem.Budget;
import dev.spillway.core.scheduling.Resources;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Cost-aware greedy packing: repeatedly pick the instance (an offering and a greedy load of it,
 * densest tasks first) that buys the most demand per dollar, valuing each task at its
 * {@linkplain PlanningProblem#fairValue fair value}, and launch as many copies of that load as the
 * demand repeats and the pool's budget allows. Ranked by demand per instance instead
 * ({@code perInstance}) it covers more when instance limits bind. Also packs the remainder
 * {@link PatternPacking} leaves after rounding its LP down.
 */
final class CostAwarePacking {
    private final PlanningProblem p;
    /** Task classes (same request, jurisdictions, spot tolerance) with the tasks still to cover. */
    private final List<List<Demand>> classes = new ArrayList<>();
    private final double[] classValue;
    /** Rank loads by value per instance instead of value per dollar (when instance limits bind). */
    private final boolean perInstance;

    /** Packs {@code demand} (some of the problem's coverable tasks). */
    CostAwarePacking(PlanningProblem p, List<Demand> demand, boolean perInstance) {
        this.p = p;
        this.perInstance = perInstance;
        classes.addAll(PlanningProblem.classesOf(demand));
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
                -classValue[c] / PlanningProblem.dominantShare(classes.get(c).get(0).request(), o.shape())).thenComparingInt(c -> c));
        return order;
    }
}
