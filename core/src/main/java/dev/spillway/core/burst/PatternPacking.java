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
 * LP-guided packing, the planner's answer for large bursts.
 *
 * <p>A <em>load</em> is one instance of an offering with a number of tasks of each class on it.
 * The linear relaxation "buy fractional copies of loads so that every class is covered, at the
 * least price" is solved by column generation: a {@link RevisedSimplex} over the loads found so far
 * gives every task class a shadow price, and for every offering a greedy knapsack looks for a load
 * worth more at those prices than the instance costs; when there is none, the LP is solved (as
 * far as the greedy knapsack can tell). Whole copies of its loads are launched, the LP is solved
 * again for what is left and rounded down again, and the last remainder (a few percent of the
 * tasks) goes to cost-aware packing.
 *
 * <p>The relaxation mixes task shapes on each instance the way the cheapest fractional plan does
 * (cpu-heavy with memory-heavy tasks, gpu tasks with fillers), which a greedy pass that fills one
 * instance at a time cannot see. Pool limits are not part of the LP; every launch is checked
 * against them, and the planner keeps whichever of its candidates is best.
 */
final class PatternPacking {

    /** LP solve-and-round-down rounds before the remainder is packed. */
    private static final int ROUNDS = 2;
    private static final double EPS = 1e-9;
    /** Pricing tries cpu:memory weightings 0, 1/WEIGHTS, ..., 1 for its greedy fill. */
    private static final int WEIGHTS = 10;
    /** Pricing also tries every balanced mix of two of this many densest classes. */
    private static final int MIX_CANDIDATES = 12;

    private final PlanningProblem p;
    private final List<List<Demand>> classes;
    private final Resources[] request;
    private final Offering[] offerings;
    /** Per class and offering: whether the class may use it, and the fraction of it one task takes per dimension. */
    private final boolean[][] usable;
    private final double[][] cpuShare;
    private final double[][] memShare;
    private final double[][] gpuShare;
    /** Loads found by earlier LPs, offered to later ones first. */
    private final List<Load> known = new ArrayList<>();

    /** Tasks per class on one instance of an offering; {@code copies} is set in an LP solution. */
    private record Load(int offering, int[] cls, int[] count, double price, double copies) {
        Load withCopies(double c) {
            return new Load(offering, cls, count, price, c);
        }
    }

    PatternPacking(PlanningProblem p) {
        this.p = p;
        this.classes = PlanningProblem.classesOf(p.coverable);
        this.request = classes.stream().map(c -> c.get(0).request()).toArray(Resources[]::new);
        this.offerings = p.offerings;
        int n = classes.size();
        this.usable = new boolean[n][offerings.length];
        this.cpuShare = new double[n][offerings.length];
        this.memShare = new double[n][offerings.length];
        this.gpuShare = new double[n][offerings.length];
        for (int c = 0; c < n; c++) {
            for (int o = 0; o < offerings.length; o++) {
                Resources shape = offerings[o].shape();
                usable[c][o] = classes.get(c).get(0).mayUse(offerings[o]);
                cpuShare[c][o] = (double) request[c].cpuMillis() / shape.cpuMillis();
                memShare[c][o] = (double) request[c].memoryMib() / shape.memoryMib();
                gpuShare[c][o] = request[c].gpus() > 0 ? (double) request[c].gpus() / shape.gpus() : 0;
            }
        }
    }

    List<Bin> solve() {
        Map<String, Budget> budgets = p.budgets();
        int[] next = new int[classes.size()];
        int[] left = new int[classes.size()];
        for (int c = 0; c < left.length; c++) left[c] = classes.get(c).size();
        List<Bin> bins = new ArrayList<>();
        for (int round = 0; round < ROUNDS && total(left) > 0; round++) {
            List<Load> lp = new LoadLp(left).solve();
            boolean launched = false;
            for (Load load : byCopies(lp)) {
                for (int k = (int) Math.floor(load.copies() + EPS); k > 0; k--) {
                    if (!launch(load, next, left, budgets, bins)) break;
                    launched = true;
                }
            }
            if (!launched) break;
        }
        List<Demand> rest = remaining(next);
        if (!rest.isEmpty()) bins.addAll(new CostAwarePacking(p, rest, false).solve(budgets));
        return bins;
    }

    /** Launches one instance of {@code load}, capped at what is left; false if nothing is left for it or the pool's budget is spent. */
    private boolean launch(Load load, int[] next, int[] left, Map<String, Budget> budgets, List<Bin> bins) {
        Offering o = offerings[load.offering()];
        Budget budget = budgets.get(o.pool());
        if (!budget.allows(o, 1)) return false;
        Bin bin = new Bin(o);
        for (int i = 0; i < load.cls().length; i++) {
            int c = load.cls()[i];
            int k = Math.min(load.count()[i], left[c]);
            for (int j = 0; j < k; j++) bin.add(classes.get(c).get(next[c]++));
            left[c] -= k;
        }
        if (bin.tasks.isEmpty()) return false;
        budget.take(o, 1);
        bins.add(bin);
        return true;
    }

    private List<Demand> remaining(int[] next) {
        List<Demand> rest = new ArrayList<>();
        for (int c = 0; c < classes.size(); c++) rest.addAll(classes.get(c).subList(next[c], classes.get(c).size()));
        return rest;
    }

    private static List<Load> byCopies(List<Load> lp) {
        List<Load> sorted = new ArrayList<>(lp);
        sorted.sort(Comparator.comparingDouble((Load l) -> -l.copies()).thenComparingInt(Load::offering));
        return sorted;
    }

    private static int total(int[] left) {
        int n = 0;
        for (int k : left) n += k;
        return n;
    }

    /**
     * The relaxation for the classes with tasks left: minimise the price of the loads bought, every
     * class covered at least {@code left} times. One {@link RevisedSimplex} row per class with tasks
     * left (so it stays small); it starts from the cheapest single-class load of each class, knows
     * the loads earlier rounds used, and asks {@link #columnsFor} for new ones.
     */
    private final class LoadLp implements RevisedSimplex.ColumnSource<Load> {
        private final int m;
        /** Row of each class, -1 when nothing is left of it. */
        private final int[] rowOf;
        private final int[] classOf;
        /** Tasks left per row. */
        private final double[] demand;
        private final RevisedSimplex<Load> simplex;
        /** The duals {@link #columnsFor} was last called with: USD/hour per task of each row. */
        private double[] dual;

        LoadLp(int[] left) {
            rowOf = new int[left.length];
            Arrays.fill(rowOf, -1);
            int rows = 0;
            for (int c = 0; c < left.length; c++) if (left[c] > 0) rowOf[c] = rows++;
            m = rows;
            classOf = new int[m];
            demand = new double[m];
            for (int c = 0; c < left.length; c++) {
                if (rowOf[c] < 0) continue;
                classOf[rowOf[c]] = c;
                demand[rowOf[c]] = left[c];
            }
            // Start from one single-class load per row: the cheapest way to cover that class alone.
            List<RevisedSimplex.Column<Load>> start = new ArrayList<>(m);
            for (int r = 0; r < m; r++) {
                int c = classOf[r];
                Load best = null;
                for (int o = 0; o < offerings.length; o++) {
                    if (!usable[c][o]) continue;
                    int k = (int) Math.min(left[c], fits(request[c], offerings[o].shape()));
                    double perTask = offerings[o].priceUsdPerHour() / k;
                    if (best == null || perTask < best.price() / best.count()[0] - EPS) {
                        best = new Load(o, new int[] {c}, new int[] {k}, offerings[o].priceUsdPerHour(), 0);
                    }
                }
                start.add(column(best));
            }
            simplex = new RevisedSimplex<>(demand, start);
            // Loads from earlier rounds, capped at what is left.
            for (Load l : known) {
                Load capped = cap(l, left);
                if (capped != null) simplex.add(column(capped));
            }
        }

        /** The loads of the LP's solution, with their (fractional) copies; they join {@link #known}. */
        List<Load> solve() {
            simplex.solve(this); // on a pivot limit or rounding trouble the current (feasible) basis is used
            List<Load> solution = new ArrayList<>();
            for (RevisedSimplex.Basic<Load> b : simplex.solution()) solution.add(b.column().label().withCopies(b.x()));
            for (Load l : solution) known.add(l.withCopies(0));
            return solution;
        }

        private RevisedSimplex.Column<Load> column(Load l) {
            int[] rows = new int[l.cls().length];
            double[] amounts = new double[l.cls().length];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = rowOf[l.cls()[i]];
                amounts[i] = l.count()[i];
            }
            return new RevisedSimplex.Column<>(rows, amounts, l.price(), l);
        }

        /** For every offering in order, a load worth more than its price at {@code duals}, if the greedy knapsack finds one. */
        @Override
        public List<RevisedSimplex.Column<Load>> columnsFor(double[] duals) {
            this.dual = duals;
            List<RevisedSimplex.Column<Load>> found = new ArrayList<>();
            for (int o = 0; o < offerings.length; o++) {
                Load load = price(o);
                if (load != null) found.add(column(load));
            }
            return found;
        }

        /**
         * A load of offering {@code o} worth more than its price at the current duals, or null: a
         * greedy knapsack taking classes by dual value per share of the instance, densest first,
         * as many of each as fit and are left.
         */
        private Load price(int o) {
            Knapsack k = new Knapsack(o);
            if (k.n == 0) return null;
            // Sweep the cpu:memory weighting of the greedy fill.
            double bestWeight = 0;
            double bestValue = Double.NEGATIVE_INFINITY;
            for (int w = 0; w <= WEIGHTS; w++) {
                double value = k.fill((double) w / WEIGHTS, -1, 0, -1, 0);
                if (value > bestValue + EPS) {
                    bestValue = value;
                    bestWeight = (double) w / WEIGHTS;
                }
            }
            // Then mixes of two of the densest classes at that weighting that use up cpu and memory together.
            k.fill(bestWeight, -1, 0, -1, 0);
            int top = Math.min(k.n, MIX_CANDIDATES);
            int[] densest = Arrays.copyOf(k.order, top);
            int bestA = -1;
            int bestB = -1;
            long bestKa = 0;
            long bestKb = 0;
            for (int i = 0; i < top; i++) {
                for (int j = i + 1; j < top; j++) {
                    long[] mix = k.balanced(densest[i], densest[j]);
                    if (mix == null) continue;
                    double value = k.fill(bestWeight, densest[i], mix[0], densest[j], mix[1]);
                    if (value > bestValue + EPS) {
                        bestValue = value;
                        bestA = densest[i];
                        bestB = densest[j];
                        bestKa = mix[0];
                        bestKb = mix[1];
                    }
                }
            }
            if (bestValue <= offerings[o].priceUsdPerHour() * (1 + 1e-7)) return null;
            k.fill(bestWeight, bestA, bestKa, bestB, bestKb);
            return k.load();
        }

        /**
         * The pricing problem for one offering: the load worth most at the current duals. Filled
         * greedily: optionally a preset number of two classes first, then classes by dual value per
         * weighted share of the instance (cpu and memory shares weighted {@code w : 1-w}, plus the
         * gpu share), as many of each as fit and are left.
         */
        private final class Knapsack {
            final int o;
            final int n;
            final int[] candidates = new int[m];
            final double[] key;
            final int[] order;
            final long[] amount;
            long cpu;
            long mem;
            long gpu;

            Knapsack(int o) {
                this.o = o;
                int k = 0;
                for (int r = 0; r < m; r++) if (dual[r] > EPS && usable[classOf[r]][o]) candidates[k++] = r;
                this.n = k;
                this.key = new double[k];
                this.order = new int[k];
                this.amount = new long[k];
            }

            double fill(double cpuWeight, int presetA, long countA, int presetB, long countB) {
                for (int i = 0; i < n; i++) {
                    int c = classOf[candidates[i]];
                    double share = cpuWeight * cpuShare[c][o] + (1 - cpuWeight) * memShare[c][o] + gpuShare[c][o];
                    key[i] = dual[candidates[i]] / Math.max(share, 1e-12);
                }
                sortByKeyDescending(order, key, n);
                Resources shape = offerings[o].shape();
                cpu = shape.cpuMillis();
                mem = shape.memoryMib();
                gpu = shape.gpus();
                Arrays.fill(amount, 0);
                double value = 0;
                if (presetA >= 0) value += take(presetA, countA);
                if (presetB >= 0) value += take(presetB, countB);
                for (int i = 0; i < n; i++) value += take(order[i], Long.MAX_VALUE);
                return value;
            }

            /** Takes up to {@code most} more tasks of candidate i, as many as fit and are left; returns their value. */
            private double take(int i, long most) {
                int r = candidates[i];
                Resources req = request[classOf[r]];
                long k = Math.min(most, Math.min((long) demand[r] - amount[i], fits(req, cpu, mem, gpu)));
                if (k <= 0) return 0;
                cpu -= k * req.cpuMillis();
                mem -= k * req.memoryMib();
                gpu -= k * req.gpus();
                amount[i] += k;
                return k * dual[r];
            }

            /** Whole numbers of candidates a and b that together use up the empty instance's cpu and memory (rounded down), or null. */
            long[] balanced(int a, int b) {
                Resources ra = request[classOf[candidates[a]]];
                Resources rb = request[classOf[candidates[b]]];
                Resources shape = offerings[o].shape();
                double det = (double) ra.cpuMillis() * rb.memoryMib() - (double) rb.cpuMillis() * ra.memoryMib();
                if (Math.abs(det) < 1e-9) return null;
                double xa = ((double) shape.cpuMillis() * rb.memoryMib() - (double) rb.cpuMillis() * shape.memoryMib()) / det;
                double xb = ((double) ra.cpuMillis() * shape.memoryMib() - (double) shape.cpuMillis() * ra.memoryMib()) / det;
                if (xa < 1 || xb < 1) return null;
                return new long[] {(long) Math.floor(xa + EPS), (long) Math.floor(xb + EPS)};
            }

            Load load() {
                int taken = 0;
                int[] cls = new int[n];
                int[] count = new int[n];
                for (int i = 0; i < n; i++) {
                    if (amount[i] == 0) continue;
                    cls[taken] = classOf[candidates[i]];
                    count[taken++] = (int) amount[i];
                }
                return new Load(o, Arrays.copyOf(cls, taken), Arrays.copyOf(count, taken), offerings[o].priceUsdPerHour(), 0);
            }
        }

        private Load cap(Load l, int[] left) {
            int n = 0;
            int[] cls = new int[l.cls().length];
            int[] count = new int[l.cls().length];
            for (int i = 0; i < l.cls().length; i++) {
                int c = l.cls()[i];
                if (left[c] == 0) continue;
                cls[n] = c;
                count[n++] = Math.min(l.count()[i], left[c]);
            }
            return n == 0 ? null : new Load(l.offering(), Arrays.copyOf(cls, n), Arrays.copyOf(count, n), l.price(), 0);
        }
    }

    /** How many tasks of {@code r} fit on an empty {@code shape}. */
    private static long fits(Resources r, Resources shape) {
        return fits(r, shape.cpuMillis(), shape.memoryMib(), shape.gpus());
    }

    private static long fits(Resources r, long cpu, long mem, long gpu) {
        long k = Long.MAX_VALUE;
        if (r.cpuMillis() > 0) k = Math.min(k, cpu / r.cpuMillis());
        if (r.memoryMib() > 0) k = Math.min(k, mem / r.memoryMib());
        if (r.gpus() > 0) k = Math.min(k, gpu / r.gpus());
        return k;
    }

    /** Fills {@code order[0..n)} with 0..n-1 by {@code key} descending, ties in index order (insertion sort: n is small). */
    private static void sortByKeyDescending(int[] order, double[] key, int n) {
        for (int i = 0; i < n; i++) {
            int j = i;
            while (j > 0 && key[order[j - 1]] < key[i]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
    }
}
