package dev.spillway.core.burst;

import dev.spillway.core.burst.PlanningProblem.Bin;
import java.util.List;

/**
 * Turns demand the on-prem pools cannot serve into the cheapest set of cloud instances that
 * covers it, within each pool's instance and spend limits: variable-size bin packing with costs.
 * Pure and deterministic.
 *
 * <p>Objective, in order: cover as many tasks as the limits allow, then pay the least per hour.
 * The pipeline, one strategy per class:
 * <ol>
 *   <li><b>Normalise</b> ({@link PlanningProblem}): keep the offerings the pools allow, leaving out
 *       any that another offering of the same pool beats outright (no dearer, no smaller, same
 *       jurisdiction, on-demand if it is); set aside, with a reason, the tasks no offering can hold.</li>
 *   <li><b>Small problems</b> (up to {@link #EXACT_MAX_TASKS} tasks and {@link #EXACT_MAX_OFFERINGS}
 *       offerings) are solved exactly by branch and bound ({@link ExactSearch}); that is the plan.</li>
 *   <li>Larger ones take the best of these candidates, in this order (most tasks covered, then
 *       cheapest; a later candidate wins a tie), each after {@link RightSizing} swaps every instance
 *       for the cheapest one of its pool that still holds its load:
 *     <ul>
 *       <li><b>first-fit decreasing</b> ({@link FirstFitDecreasing}) with the cheapest offering that
 *           fits each new bin (the usual autoscaler packing), so the plan is never worse than it;</li>
 *       <li><b>cost-aware packing</b> ({@link CostAwarePacking}): repeatedly launch the load that buys
 *           the most demand per dollar, as many copies as the demand repeats;</li>
 *       <li><b>LP-guided packing</b> ({@link PatternPacking}): the linear relaxation over instance
 *           loads, solved by column generation on a {@link RevisedSimplex}, rounded down, the
 *           remainder packed cost-aware; it mixes task shapes on an instance the way the optimum
 *           does, and is the usual winner on large bursts;</li>
 *       <li>only when pool limits leave demand uncovered: cost-aware packing ranked by demand per
 *           instance instead of per dollar, which may cover more before the limits bind.</li>
 *     </ul></li>
 * </ol>
 */
public final class BurstPlanner {

    /** Up to this many tasks (and {@link #EXACT_MAX_OFFERINGS} offerings) are solved exactly. */
    public static final int EXACT_MAX_TASKS = 7;
    public static final int EXACT_MAX_OFFERINGS = 12;

    public ProvisionPlan plan(List<Demand> demand, List<Offering> offerings, List<PoolLimits> limits) {
        PlanningProblem p = new PlanningProblem(demand, offerings, limits);
        if (p.coverable.isEmpty()) return p.result(List.of());
        if (p.coverable.size() <= EXACT_MAX_TASKS && p.offerings.length <= EXACT_MAX_OFFERINGS) {
            return p.result(new ExactSearch(p).solve());
        }
        RightSizing rightSizing = new RightSizing(p);
        List<Bin> best = rightSizing.apply(new FirstFitDecreasing(p).solve());
        List<Bin> packed = rightSizing.apply(new CostAwarePacking(p, p.coverable, false).solve(p.budgets()));
        if (better(packed, best)) best = packed;
        List<Bin> guided = rightSizing.apply(new PatternPacking(p).solve());
        if (better(guided, best)) best = guided;
        if (covered(best) < p.coverable.size()) {
            // Limits bind: the cheapest-per-dollar instances may run out before the demand does;
            // packing the most demand per instance may cover more.
            List<Bin> dense = rightSizing.apply(new CostAwarePacking(p, p.coverable, true).solve(p.budgets()));
            if (better(dense, best)) best = dense;
        }
        return p.result(best);
    }

    /** The first-fit-decreasing plan alone: the baseline the planner must never lose to. */
    public ProvisionPlan firstFitDecreasing(List<Demand> demand, List<Offering> offerings, List<PoolLimits> limits) {
        PlanningProblem p = new PlanningProblem(demand, offerings, limits);
        return p.result(new FirstFitDecreasing(p).solve());
    }

    /** Whether candidate {@code a} covers more tasks than {@code b}, or as many for no more (within 1e-9 USD/hour). */
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

    /** Price of all the bins' offerings, USD/hour. */
    static double cost(List<Bin> bins) {
        double c = 0;
        for (Bin b : bins) c += b.offering.priceUsdPerHour();
        return c;
    }
}
