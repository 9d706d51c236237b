package dev.spillway.core.burst;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A covering linear program, solved by the revised simplex method with column generation:
 *
 * <pre>
 *   minimise    sum_j cost_j * x_j
 *   subject to  sum_j a_ij * x_j &gt;= demand_i     for every row i = 0 .. m-1
 *               x_j &gt;= 0
 * </pre>
 *
 * Each {@link Column} is sparse: a few rows with amounts {@code a_ij >= 0}, a cost {@code > 0}, and
 * a label of the caller's (for {@link PatternPacking}: a row is a task class, {@code demand_i} its
 * tasks left, a column a load of one instance, its amounts tasks per class, its cost the
 * instance's price in USD/hour, {@code x_j} fractional copies of it). Units are the caller's; the
 * duals are in cost per unit of a row's demand (USD/hour per task).
 *
 * <p>The constructor takes a feasible starting basis: one column per row covering that row alone,
 * so the inverse starts diagonal. Each row {@code i} also has an implicit surplus variable
 * ({@code a x - s = demand}, cost 0), which enters when row {@code i}'s dual goes negative.
 * The basis inverse is kept explicitly (m x m, updated at each pivot) and recomputed from the
 * basis by Gauss-Jordan elimination every {@link #REFACTOR_EVERY} pivots, against rounding drift;
 * if the basis is numerically singular then, the updated inverse is kept.
 *
 * <p>Pricing, in this order: a surplus whose row has a dual below {@code -1e-9}; else the known
 * column with the most negative reduced cost per unit of cost (below {@code -1e-7}); else the
 * caller's {@link ColumnSource} is asked for new columns at the current duals, they are added, and
 * the known columns are priced again. Ratio test ties (within 1e-9) go to the largest pivot
 * element. There is no anti-cycling rule: {@code maxPivots} bounds a degenerate cycle. The same
 * inputs give the same pivots: the method is deterministic.
 *
 * <p>{@link #solve} stops and reports why ({@link Outcome}): no known or generated column improves
 * (optimal, as far as the column source can tell); or {@code maxPivots} pivots in this call; or an
 * entering column that no row limits, which exact arithmetic rules out for positive costs and
 * nonnegative amounts and so means rounding trouble. In every case the current basis is primal
 * feasible (to rounding: basic values within {@code -1e-9} of zero are clamped to zero) and is the
 * answer. Columns may be added between solves; the next solve continues from the current basis.
 *
 * @param <T> the caller's label of a column
 */
final class RevisedSimplex<T> {

    /** Default pivots per {@link #solve} call. */
    static final int MAX_PIVOTS = 5000;
    /** Default: the basis inverse is recomputed from scratch this often (in pivots). */
    static final int REFACTOR_EVERY = 50;
    private static final double EPS = 1e-9;
    /** A column enters only if its reduced cost per unit of its cost is below this. */
    private static final double IMPROVING_RATE = -1e-7;
    private static final int NONE = Integer.MIN_VALUE;

    /**
     * One variable of the LP: amounts {@code amounts[k] >= 0} on rows {@code rows[k]} (distinct),
     * zero elsewhere, at {@code cost > 0} per unit of x.
     */
    record Column<T>(int[] rows, double[] amounts, double cost, T label) {
        Column {
            if (rows.length != amounts.length) throw new IllegalArgumentException("rows and amounts differ in length");
            if (!(cost > 0)) throw new IllegalArgumentException("cost must be positive: " + cost);
            for (double a : amounts) if (!(a >= 0) || Double.isInfinite(a)) throw new IllegalArgumentException("amount must be finite and >= 0: " + a);
        }
    }

    /** Column generation: new columns for the LP at the current duals. */
    interface ColumnSource<T> {
        /** No columns beyond those added: a plain LP. */
        static <T> ColumnSource<T> none() {
            return duals -> List.of();
        }

        /**
         * Columns that may price out at {@code duals} (one per row, a copy): those with
         * {@code cost - sum_k duals[rows[k]] * amounts[k] < 0}. Called only when no known column
         * does. All returned columns are added; if none of them improves (or the list is empty),
         * the solve ends as optimal.
         */
        List<Column<T>> columnsFor(double[] duals);
    }

    /** Why {@link #solve} stopped; in every case the current basis is feasible and is the answer. */
    enum Outcome {
        /** No known column and none from the column source improves. */
        OPTIMAL,
        /** {@code maxPivots} pivots in this call. */
        PIVOT_LIMIT,
        /** The entering column's direction had no entry above 1e-9: rounding, since the LP is bounded. */
        NO_LEAVING_ROW
    }

    /** A column in the basis at a positive level {@code x}. */
    record Basic<T>(Column<T> column, double x) {
    }

    private final int m;
    private final double[] demand;
    private final int maxPivots;
    private final int refactorEvery;
    private final List<Column<T>> columns = new ArrayList<>();
    /** Basic variable of each row: a column index, or {@code -1 - r} for the surplus of row r. */
    private final int[] basis;
    private final double[] basicCost;
    private final double[][] inverse;
    private final double[] x;
    private final double[] dual;
    private int pivots;
    private int sinceRefactor;

    /** With {@link #MAX_PIVOTS} and {@link #REFACTOR_EVERY}. */
    RevisedSimplex(double[] demand, List<Column<T>> start) {
        this(demand, start, MAX_PIVOTS, REFACTOR_EVERY);
    }

    /**
     * @param demand        each row's right-hand side, {@code >= 0}
     * @param start         the starting basis, one column per row: {@code start.get(i)} has a single
     *                      positive amount, on row {@code i}; they become columns {@code 0 .. m-1}
     * @param maxPivots     pivots per {@link #solve} call before it gives up
     * @param refactorEvery pivots between recomputations of the basis inverse
     */
    RevisedSimplex(double[] demand, List<Column<T>> start, int maxPivots, int refactorEvery) {
        if (start.size() != demand.length) throw new IllegalArgumentException("one starting column per row");
        if (maxPivots < 0 || refactorEvery < 1) throw new IllegalArgumentException("maxPivots >= 0, refactorEvery >= 1");
        this.m = demand.length;
        this.demand = demand.clone();
        this.maxPivots = maxPivots;
        this.refactorEvery = refactorEvery;
        basis = new int[m];
        basicCost = new double[m];
        inverse = new double[m][m];
        x = new double[m];
        dual = new double[m];
        for (int r = 0; r < m; r++) {
            if (!(demand[r] >= 0) || Double.isInfinite(demand[r])) throw new IllegalArgumentException("demand must be finite and >= 0: " + demand[r]);
            Column<T> c = start.get(r);
            if (c.rows().length != 1 || c.rows()[0] != r || !(c.amounts()[0] > 0)) {
                throw new IllegalArgumentException("starting column " + r + " must cover row " + r + " alone");
            }
            basis[r] = columns.size();
            columns.add(c);
            basicCost[r] = c.cost();
            inverse[r][r] = 1.0 / c.amounts()[0];
            x[r] = demand[r] / c.amounts()[0];
        }
        computeDuals();
    }

    /** Adds a column (not in the basis); returns its index. */
    int add(Column<T> c) {
        for (int r : c.rows()) if (r < 0 || r >= m) throw new IllegalArgumentException("no row " + r);
        columns.add(c);
        return columns.size() - 1;
    }

    /** Pivots from the current basis until one of the {@link Outcome}s; afterwards {@link #duals} are those of the final basis. */
    Outcome solve(ColumnSource<T> source) {
        for (int n = 0; n < maxPivots; n++) {
            computeDuals();
            int entering = entering(source);
            if (entering == NONE) return Outcome.OPTIMAL;
            double[] column = direction(entering);
            int leaving = ratioTest(column);
            if (leaving < 0) return Outcome.NO_LEAVING_ROW;
            pivot(leaving, column, entering);
            pivots++;
            if (++sinceRefactor >= refactorEvery) {
                refactor();
                sinceRefactor = 0;
            }
        }
        computeDuals();
        return Outcome.PIVOT_LIMIT;
    }

    /** The basic columns at a level above 1e-9, in the order of their basis rows. */
    List<Basic<T>> solution() {
        List<Basic<T>> out = new ArrayList<>();
        for (int r = 0; r < m; r++) {
            if (basis[r] >= 0 && x[r] > EPS) out.add(new Basic<>(columns.get(basis[r]), x[r]));
        }
        return out;
    }

    /** The level of column {@code j} in the current basic solution (0 when it is not basic). */
    double value(int j) {
        for (int r = 0; r < m; r++) if (basis[r] == j) return x[r];
        return 0;
    }

    /** Cost of the current basic solution. */
    double objective() {
        double z = 0;
        for (int r = 0; r < m; r++) z += basicCost[r] * x[r];
        return z;
    }

    /** The current basis's duals (cost per unit of each row's demand), a copy; at an optimum all are {@code >= -1e-9}. */
    double[] duals() {
        return dual.clone();
    }

    /** The reduced cost of column {@code j} at the current duals: {@code cost - duals . a_j}. */
    double reducedCost(int j) {
        return reducedCost(columns.get(j));
    }

    int columnCount() {
        return columns.size();
    }

    Column<T> column(int j) {
        return columns.get(j);
    }

    /** Pivots made over all {@link #solve} calls. */
    int pivots() {
        return pivots;
    }

    private void computeDuals() {
        Arrays.fill(dual, 0);
        for (int i = 0; i < m; i++) {
            double cb = basicCost[i];
            if (cb == 0) continue;
            double[] row = inverse[i];
            for (int j = 0; j < m; j++) dual[j] += cb * row[j];
        }
    }

    /** The entering variable (a column index, or {@code -1 - r} for row r's surplus); {@link #NONE} when none improves. */
    private int entering(ColumnSource<T> source) {
        for (int r = 0; r < m; r++) if (dual[r] < -EPS) return -1 - r;
        int best = bestKnown();
        if (best >= 0) return best;
        List<Column<T>> found = source.columnsFor(dual.clone());
        if (found.isEmpty()) return NONE;
        for (Column<T> c : found) add(c);
        best = bestKnown();
        return best >= 0 ? best : NONE;
    }

    private int bestKnown() {
        int best = -1;
        double bestRate = IMPROVING_RATE;
        for (int j = 0; j < columns.size(); j++) {
            Column<T> c = columns.get(j);
            double rate = reducedCost(c) / c.cost();
            if (rate < bestRate) {
                bestRate = rate;
                best = j;
            }
        }
        return best;
    }

    private double reducedCost(Column<T> c) {
        double value = 0;
        for (int k = 0; k < c.rows().length; k++) value += dual[c.rows()[k]] * c.amounts()[k];
        return c.cost() - value;
    }

    /** B^-1 times the entering variable's column. */
    private double[] direction(int entering) {
        double[] d = new double[m];
        if (entering < 0) {
            int r = -1 - entering;
            for (int i = 0; i < m; i++) d[i] = -inverse[i][r];
            return d;
        }
        Column<T> c = columns.get(entering);
        for (int k = 0; k < c.rows().length; k++) {
            int r = c.rows()[k];
            double a = c.amounts()[k];
            for (int i = 0; i < m; i++) d[i] += inverse[i][r] * a;
        }
        return d;
    }

    /** The row whose basic variable reaches zero first; among ties, the largest pivot (stability). */
    private int ratioTest(double[] d) {
        int leaving = -1;
        double bestRatio = Double.POSITIVE_INFINITY;
        for (int i = 0; i < m; i++) {
            if (d[i] <= EPS) continue;
            double ratio = Math.max(0, x[i]) / d[i];
            if (ratio < bestRatio - EPS || (ratio < bestRatio + EPS && leaving >= 0 && d[i] > d[leaving])) {
                bestRatio = ratio;
                leaving = i;
            }
        }
        return leaving;
    }

    private void pivot(int r, double[] d, int entering) {
        double piv = d[r];
        double[] pivotRow = inverse[r];
        for (int j = 0; j < m; j++) pivotRow[j] /= piv;
        x[r] /= piv;
        for (int i = 0; i < m; i++) {
            if (i == r || d[i] == 0) continue;
            double f = d[i];
            double[] row = inverse[i];
            for (int j = 0; j < m; j++) row[j] -= f * pivotRow[j];
            x[i] -= f * x[r];
            if (x[i] < 0 && x[i] > -EPS) x[i] = 0;
        }
        basis[r] = entering;
        basicCost[r] = entering < 0 ? 0 : columns.get(entering).cost();
    }

    /** Recomputes the basis inverse and the basic solution from the basis (Gauss-Jordan, partial pivoting). */
    private void refactor() {
        double[][] a = new double[m][2 * m];
        for (int col = 0; col < m; col++) {
            int v = basis[col];
            if (v < 0) {
                a[-1 - v][col] = -1;
            } else {
                Column<T> c = columns.get(v);
                for (int k = 0; k < c.rows().length; k++) a[c.rows()[k]][col] = c.amounts()[k];
            }
        }
        for (int i = 0; i < m; i++) a[i][m + i] = 1;
        for (int col = 0; col < m; col++) {
            int pivotRow = col;
            for (int i = col + 1; i < m; i++) if (Math.abs(a[i][col]) > Math.abs(a[pivotRow][col])) pivotRow = i;
            if (Math.abs(a[pivotRow][col]) < 1e-12) return; // numerically singular: keep the updated inverse
            double[] t = a[col];
            a[col] = a[pivotRow];
            a[pivotRow] = t;
            double piv = a[col][col];
            for (int j = 0; j < 2 * m; j++) a[col][j] /= piv;
            for (int i = 0; i < m; i++) {
                if (i == col || a[i][col] == 0) continue;
                double f = a[i][col];
                for (int j = 0; j < 2 * m; j++) a[i][j] -= f * a[col][j];
            }
        }
        for (int i = 0; i < m; i++) {
            System.arraycopy(a[i], m, inverse[i], 0, m);
            double v = 0;
            for (int j = 0; j < m; j++) v += inverse[i][j] * demand[j];
            x[i] = Math.max(0, v);
        }
    }
}
