package dev.spillway.core.burst;

import dev.spillway.core.burst.PlanningProblem.Bin;
import dev.spillway.core.burst.PlanningProblem.Budget;
import dev.spillway.core.scheduling.Resources;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The optimum of a small problem by branch and bound: the most tasks covered within the pools'
 * limits, then the least price per hour. Each task, largest first, goes into an open instance
 * (one of each identical kind tried), onto a new instance of each offering its pool's budget
 * allows, or nowhere; branches that cannot cover more, or cover as many for less than the best
 * plan so far, are cut. Exponential in the number of tasks: {@link BurstPlanner} uses it only up to
 * {@link BurstPlanner#EXACT_MAX_TASKS} tasks and {@link BurstPlanner#EXACT_MAX_OFFERINGS} offerings.
 */
final class ExactSearch {
    private final PlanningProblem p;
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

    ExactSearch(PlanningProblem p) {
        this.p = p;
        this.tasks = p.coverable.stream().sorted(PlanningProblem.largestFirst()).toArray(Demand[]::new);
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

    /** The optimal bins; call once. */
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
        Set<Object> tried = new HashSet<>();
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
