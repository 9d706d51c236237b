package dev.spillway.core.burst;

import dev.spillway.core.burst.PlanningProblem.Bin;
import dev.spillway.core.burst.PlanningProblem.Budget;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * First-fit decreasing, the usual autoscaler packing and the baseline the planner must never lose
 * to: tasks largest first ({@link PlanningProblem#largestFirst}), each into the first open instance
 * it may use and fits on, else onto a new instance of the cheapest offering it may use that its
 * pool's budget still allows; a task no such offering is left for stays uncovered.
 */
final class FirstFitDecreasing {

    private final PlanningProblem p;

    FirstFitDecreasing(PlanningProblem p) {
        this.p = p;
    }

    List<Bin> solve() {
        List<Demand> order = new ArrayList<>(p.coverable);
        order.sort(PlanningProblem.largestFirst());
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
}
