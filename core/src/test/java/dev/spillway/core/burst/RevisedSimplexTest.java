package dev.spillway.core.burst;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.spillway.core.burst.RevisedSimplex.Column;
import dev.spillway.core.burst.RevisedSimplex.ColumnSource;
import dev.spillway.core.burst.RevisedSimplex.Outcome;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * The covering LP on its own: small programs whose optimum is worked out by hand in each test's
 * comment, and random tiny ones checked against every basic solution enumerated in exact rational
 * arithmetic.
 */
class RevisedSimplexTest {

    private static final double TOL = 1e-9;

    /** A column covering only {@code row}. */
    private static Column<String> single(String name, int row, double amount, double cost) {
        return new Column<>(new int[] {row}, new double[] {amount}, cost, name);
    }

    private static Column<String> col(String name, int[] rows, double[] amounts, double cost) {
        return new Column<>(rows, amounts, cost, name);
    }

    private static RevisedSimplex<String> lp(double[] demand, List<Column<String>> start) {
        return new RevisedSimplex<>(demand, start);
    }

    /**
     * min x0 + 2 x1, x0 + 3 x1 >= 10. Per unit of the row x1 costs 2/3 against 1: x1 = 10/3,
     * optimum 20/3, dual 2/3.
     */
    @Test
    void oneRowTakesTheCheaperColumnPerUnit() {
        var lp = lp(new double[] {10}, List.of(single("a", 0, 1, 1)));
        int b = lp.add(single("b", 0, 3, 2));

        assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.OPTIMAL);

        assertThat(lp.objective()).isCloseTo(20.0 / 3, within(TOL));
        assertThat(lp.value(b)).isCloseTo(10.0 / 3, within(TOL));
        assertThat(lp.value(0)).isZero();
        assertThat(lp.duals()[0]).isCloseTo(2.0 / 3, within(TOL));
        assertThat(lp.solution()).extracting(s -> s.column().label()).containsExactly("b");
    }

    /**
     * min x0 + x1 + 1.5 x2, x0 + x2 >= 4, x1 + x2 >= 6. With x2 = t <= 4 the cost is 10 - t/2, past
     * 4 it is 6 + t/2: x2 = 4, x1 = 2, optimum 8. Duals: x1 basic gives y1 = 1, x2 basic gives
     * y0 + y1 = 1.5, so y0 = 0.5.
     */
    @Test
    void aColumnCoveringTwoRowsIsBoughtWhereItPays() {
        var lp = lp(new double[] {4, 6}, List.of(single("x0", 0, 1, 1), single("x1", 1, 1, 1)));
        int x2 = lp.add(col("x2", new int[] {0, 1}, new double[] {1, 1}, 1.5));

        assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.OPTIMAL);

        assertThat(lp.objective()).isCloseTo(8, within(TOL));
        assertThat(lp.value(x2)).isCloseTo(4, within(TOL));
        assertThat(lp.value(1)).isCloseTo(2, within(TOL));
        assertThat(lp.value(0)).isZero();
        assertThat(lp.duals()).containsExactly(new double[] {0.5, 1}, within(TOL));
    }

    /**
     * min x0 + x1 + xD, x0 + xD >= 1, x1 + 2 xD >= 4. xD = 2 covers both (row 0 twice over) for 2;
     * every other mix costs more (xD = 1, x1 = 2 costs 3). The path goes through a basis where row
     * 0's dual is -1 (xD = 1, x1 = 2: y0 + 2 y1 = 1, y1 = 1), so row 0's surplus enters; at the
     * optimum it is basic at 1 and the duals are y0 = 0 and y1 = 1/2 (xD alone prices row 1).
     */
    @Test
    void aRowCoveredBeyondItsDemandHasItsSurplusInTheBasis() {
        var lp = lp(new double[] {1, 4}, List.of(single("x0", 0, 1, 1), single("x1", 1, 1, 1)));
        int d = lp.add(col("xD", new int[] {0, 1}, new double[] {1, 2}, 1));

        assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.OPTIMAL);

        assertThat(lp.objective()).isCloseTo(2, within(TOL));
        assertThat(lp.value(d)).isCloseTo(2, within(TOL));
        assertThat(lp.duals()).containsExactly(new double[] {0, 0.5}, within(TOL));
        assertThat(lp.solution()).extracting(s -> s.column().label()).containsExactly("xD");
        assertThat(lp.pivots()).isEqualTo(2);
    }

    /**
     * Degenerate: row 0 demands nothing, so its starting column sits in the basis at 0 and the
     * first ratio test ties at 0. min x0 + x1 + 1.5 x2, x0 + x2 >= 0, x1 + x2 >= 3: x1 = 3 costs 3,
     * x2 = 3 costs 4.5, optimum 3.
     */
    @Test
    void aRowWithNoDemandGivesADegenerateStartAndTheOptimumIsStillFound() {
        var lp = lp(new double[] {0, 3}, List.of(single("x0", 0, 1, 1), single("x1", 1, 1, 1)));
        lp.add(col("x2", new int[] {0, 1}, new double[] {1, 1}, 1.5));

        assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.OPTIMAL);

        assertThat(lp.objective()).isCloseTo(3, within(TOL));
        assertThat(lp.solution()).extracting(s -> s.column().label()).containsExactly("x1");
        assertThat(lp.solution().get(0).x()).isCloseTo(3, within(TOL));
    }

    /**
     * Degenerate ties: min x0 + x1 + y + y', x0 + y + y' >= 2, x1 + y + y' >= 2, where y and y' are
     * the same column. The first ratio test ties (2/1 on both rows); the optimum is 2 (y + y' = 2)
     * and the duplicate must not make it cycle.
     */
    @Test
    void tiedRatiosAndADuplicateColumnDoNotCycle() {
        var lp = lp(new double[] {2, 2}, List.of(single("x0", 0, 1, 1), single("x1", 1, 1, 1)));
        lp.add(col("y", new int[] {0, 1}, new double[] {1, 1}, 1));
        lp.add(col("y'", new int[] {0, 1}, new double[] {1, 1}, 1));

        assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.OPTIMAL);

        assertThat(lp.objective()).isCloseTo(2, within(TOL));
        assertThat(lp.value(2) + lp.value(3)).isCloseTo(2, within(TOL));
        assertThat(lp.pivots()).isLessThanOrEqualTo(3);
    }

    /**
     * A column added after a solve: the next solve continues from the optimal basis. First only
     * x0 (cost 1 per unit): optimum 10. Then x1 covering 3 units for 2 arrives: optimum 20/3, one
     * more pivot.
     */
    @Test
    void aColumnAddedAfterASolveIsTakenByTheNextSolve() {
        var lp = lp(new double[] {10}, List.of(single("x0", 0, 1, 1)));
        assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.OPTIMAL);
        assertThat(lp.objective()).isCloseTo(10, within(TOL));
        assertThat(lp.pivots()).isZero();

        int x1 = lp.add(single("x1", 0, 3, 2));
        assertThat(lp.reducedCost(x1)).isCloseTo(2 - 3, within(TOL));
        assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.OPTIMAL);

        assertThat(lp.objective()).isCloseTo(20.0 / 3, within(TOL));
        assertThat(lp.value(x1)).isCloseTo(10.0 / 3, within(TOL));
        assertThat(lp.pivots()).isEqualTo(1);
    }

    /**
     * Column generation, the cutting-stock relaxation: rolls of width 10, at least 6 pieces of width
     * 3 and 4 of width 4, a roll costs 1. Patterns (a, b) with 3a + 4b <= 10. The dual (1/4, 1/2)
     * is feasible for every pattern (2/4 + 1/2 = 1 for (2, 1), 3/4 for (3, 0), 1 for (0, 2)) and
     * worth 6/4 + 4/2 = 3.5; 3 rolls of (2, 1) and half a roll of (0, 2) cost 3.5: the optimum.
     * The start knows only (3, 0) and (0, 2); the source must supply (2, 1).
     */
    @Test
    void columnsFromTheSourceAreBroughtInUntilNoneImproves() {
        var lp = lp(new double[] {6, 4}, List.of(single("(3,0)", 0, 3, 1), single("(0,2)", 1, 2, 1)));
        List<double[]> asked = new ArrayList<>();
        ColumnSource<String> bestPattern = duals -> {
            asked.add(duals);
            double bestValue = 1 + 1e-9;
            Column<String> best = null;
            for (int a = 0; 3 * a <= 10; a++) {
                for (int b = 0; 3 * a + 4 * b <= 10; b++) {
                    double value = a * duals[0] + b * duals[1];
                    if (value > bestValue) {
                        bestValue = value;
                        best = col("(" + a + "," + b + ")", new int[] {0, 1}, new double[] {a, b}, 1);
                    }
                }
            }
            return best == null ? List.of() : List.of(best);
        };

        assertThat(lp.solve(bestPattern)).isEqualTo(Outcome.OPTIMAL);

        assertThat(lp.objective()).isCloseTo(3.5, within(TOL));
        assertThat(lp.duals()).containsExactly(new double[] {0.25, 0.5}, within(TOL));
        assertThat(lp.solution()).extracting(s -> s.column().label()).containsExactlyInAnyOrder("(2,1)", "(0,2)");
        assertThat(asked).isNotEmpty();
        assertThat(lp.columnCount()).isGreaterThan(2);
    }

    /**
     * Long enough to refactor: 2n rows, row i wants one unit; singles cost 2 each (the start), pairs
     * {i, i+1} cost 1.5. Pairs cover a row for 0.75, and every row needs one: the optimum is
     * 0.75 * 2n, the n disjoint pairs (2i, 2i+1) once each (the duals 0.75 on every row prove it).
     * The basis inverse recomputed every pivot, every 50 (the default) or never must reach it alike.
     */
    @Test
    void refactoringTheBasisInverseGivesTheSameOptimum() {
        int rows = 120;
        List<String> disjointPairs = new ArrayList<>();
        for (int r = 0; r < rows; r += 2) disjointPairs.add("p" + r);
        double[] objective = new double[3];
        int[] pivots = new int[3];
        int[] every = {1, RevisedSimplex.REFACTOR_EVERY, Integer.MAX_VALUE};
        for (int run = 0; run < 3; run++) {
            double[] demand = new double[rows];
            java.util.Arrays.fill(demand, 1);
            List<Column<String>> start = new ArrayList<>();
            for (int r = 0; r < rows; r++) start.add(single("s" + r, r, 1, 2));
            var lp = new RevisedSimplex<>(demand, start, RevisedSimplex.MAX_PIVOTS, every[run]);
            for (int r = 0; r + 1 < rows; r++) lp.add(col("p" + r, new int[] {r, r + 1}, new double[] {1, 1}, 1.5));

            assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.OPTIMAL);
            objective[run] = lp.objective();
            pivots[run] = lp.pivots();
            double[] y = lp.duals();
            for (int j = 0; j < lp.columnCount(); j++) assertThat(lp.reducedCost(j)).as("reduced cost of %s", lp.column(j).label()).isGreaterThan(-1e-7);
            for (double d : y) assertThat(d).isGreaterThan(-1e-9);
            assertFeasible(lp, demand);
            assertThat(lp.solution()).as("refactor every %d", every[run]).extracting(b -> b.column().label()).containsExactlyElementsOf(disjointPairs);
            assertThat(lp.solution()).allSatisfy(b -> assertThat(b.x()).isCloseTo(1, within(TOL)));
        }
        assertThat(pivots[1]).as("pivots").isGreaterThan(RevisedSimplex.REFACTOR_EVERY);
        assertThat(objective).containsExactly(new double[] {0.75 * rows, 0.75 * rows, 0.75 * rows}, within(1e-7));
    }

    /**
     * Out of pivots it stops on the current feasible basis. min x0 + x1 + 1.5 y + 1.2 z, x0 + y + z
     * >= 4, x1 + y + z >= 6, one pivot allowed: z enters (reduced cost per dollar -0.8/1.2 beats
     * y's -0.5/1.5) and row 0 leaves (4 < 6), giving z = 4, x1 = 2 at 6.8, down from 10.
     */
    @Test
    void atThePivotLimitTheCurrentFeasibleBasisIsTheAnswer() {
        var lp = new RevisedSimplex<>(new double[] {4, 6}, List.of(single("x0", 0, 1, 1), single("x1", 1, 1, 1)), 1, 50);
        lp.add(col("y", new int[] {0, 1}, new double[] {1, 1}, 1.5));
        int z = lp.add(col("z", new int[] {0, 1}, new double[] {1, 1}, 1.2));

        assertThat(lp.solve(ColumnSource.none())).isEqualTo(Outcome.PIVOT_LIMIT);

        assertThat(lp.pivots()).isEqualTo(1);
        assertFeasible(lp, new double[] {4, 6});
        assertThat(lp.value(z)).isCloseTo(4, within(TOL));
        assertThat(lp.objective()).isCloseTo(6.8, within(TOL));
    }

    @Test
    void aStartThatIsNotOneColumnPerRowIsRefused() {
        assertThatThrownBy(() -> lp(new double[] {1, 1}, List.of(single("a", 0, 1, 1))))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> lp(new double[] {1, 1}, List.of(single("a", 1, 1, 1), single("b", 0, 1, 1))))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> lp(new double[] {1}, List.of(col("a", new int[] {0}, new double[] {1}, 0))))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---- against every basic solution, in exact arithmetic -------------------------------------

    /** A tiny covering LP: integer demands, costs and amounts; columns past {@code upFront} come only from the column source. */
    record Tiny(int[] demand, int[][] amounts, int[] costs, int upFront) {
        int m() {
            return demand.length;
        }

        int n() {
            return costs.length;
        }

        @Override
        public String toString() {
            StringBuilder s = new StringBuilder("demand=" + java.util.Arrays.toString(demand) + " upFront=" + upFront);
            for (int j = 0; j < n(); j++) s.append(" | ").append(costs[j]).append(':').append(java.util.Arrays.toString(amounts[j]));
            return s.toString();
        }
    }

    /**
     * The simplex's optimum equals the least cost over every basic feasible solution of
     * {@code A x - s = b, x, s >= 0} (the LP is feasible and bounded, so an optimal vertex exists),
     * enumerated with exact fractions; with half the columns only offered by the column source.
     * Its answer is feasible, and at its duals no column improves.
     */
    @Property(tries = 400)
    void optimumEqualsTheBestBasicSolution(@ForAll("tinyLps") Tiny t) {
        int m = t.m();
        double[] demand = new double[m];
        for (int i = 0; i < m; i++) demand[i] = t.demand()[i];
        List<Column<Integer>> start = new ArrayList<>();
        for (int r = 0; r < m; r++) start.add(new Column<>(new int[] {r}, new double[] {t.amounts()[r][r]}, t.costs()[r], r));
        var lp = new RevisedSimplex<Integer>(demand, start);
        List<Column<Integer>> all = new ArrayList<>(start);
        for (int j = m; j < t.n(); j++) {
            Column<Integer> c = dense(t, j);
            all.add(c);
            if (j < t.upFront()) lp.add(c);
        }
        List<Column<Integer>> hidden = new ArrayList<>(all.subList(Math.max(m, t.upFront()), t.n()));
        ColumnSource<Integer> source = duals -> {
            List<Column<Integer>> out = new ArrayList<>();
            for (var it = hidden.iterator(); it.hasNext(); ) {
                Column<Integer> c = it.next();
                double rc = c.cost();
                for (int k = 0; k < c.rows().length; k++) rc -= duals[c.rows()[k]] * c.amounts()[k];
                if (rc / c.cost() < -1e-7) {
                    out.add(c);
                    it.remove();
                }
            }
            return out;
        };

        assertThat(lp.solve(source)).isEqualTo(Outcome.OPTIMAL);

        double best = bestBasicSolution(t).doubleValue();
        assertThat(lp.objective()).as("%s", t).isCloseTo(best, within(1e-7 * Math.max(1, best)));
        assertFeasible(lp, demand);
        double[] y = lp.duals();
        for (double d : y) assertThat(d).isGreaterThan(-1e-9);
        for (Column<Integer> c : all) {
            double rc = c.cost();
            for (int k = 0; k < c.rows().length; k++) rc -= y[c.rows()[k]] * c.amounts()[k];
            assertThat(rc).as("reduced cost of column %s", c.label()).isGreaterThan(-1e-6);
        }
    }

    @Provide
    Arbitrary<Tiny> tinyLps() {
        return Arbitraries.integers().between(1, 3).flatMap(m -> Arbitraries.integers().between(m, m + 4).flatMap(n -> Combinators.combine(
                Arbitraries.integers().between(0, 6).array(int[].class).ofSize(m),
                Arbitraries.integers().between(0, 3).array(int[].class).ofSize(m).array(int[][].class).ofSize(n),
                Arbitraries.integers().between(1, 9).array(int[].class).ofSize(n),
                Arbitraries.integers().between(m, n)).as((demand, generated, costs, upFront) -> {
                    int[][] amounts = new int[n][];
                    for (int j = 0; j < n; j++) amounts[j] = generated[j].clone();
                    // Starting columns cover their own row alone, with a positive amount; others need one positive amount.
                    for (int r = 0; r < m; r++) {
                        for (int i = 0; i < m; i++) amounts[r][i] = i == r ? Math.max(1, amounts[r][i]) : 0;
                    }
                    for (int j = m; j < n; j++) {
                        boolean any = false;
                        for (int a : amounts[j]) any |= a > 0;
                        if (!any) amounts[j][j % m] = 1;
                    }
                    return new Tiny(demand.clone(), amounts, costs.clone(), upFront);
                })));
    }

    /** Column j of the tiny LP with its nonzero rows only. */
    private static Column<Integer> dense(Tiny t, int j) {
        List<Integer> rows = new ArrayList<>();
        for (int i = 0; i < t.m(); i++) if (t.amounts()[j][i] != 0) rows.add(i);
        int[] r = rows.stream().mapToInt(Integer::intValue).toArray();
        double[] a = new double[r.length];
        for (int k = 0; k < r.length; k++) a[k] = t.amounts()[j][r[k]];
        return new Column<>(r, a, t.costs()[j], j);
    }

    private static void assertFeasible(RevisedSimplex<?> lp, double[] demand) {
        double[] covered = new double[demand.length];
        for (int j = 0; j < lp.columnCount(); j++) {
            double x = lp.value(j);
            assertThat(x).isGreaterThanOrEqualTo(0);
            var c = lp.column(j);
            for (int k = 0; k < c.rows().length; k++) covered[c.rows()[k]] += c.amounts()[k] * x;
        }
        for (int i = 0; i < demand.length; i++) assertThat(covered[i]).as("row %d", i).isGreaterThan(demand[i] - 1e-7);
    }

    /**
     * The least cost over all basic feasible solutions of [A | -I] (x, s) = b: every choice of m
     * of the n + m columns whose matrix is nonsingular, solved exactly, kept if nonnegative.
     */
    static Fraction bestBasicSolution(Tiny t) {
        int m = t.m();
        int vars = t.n() + m;
        Fraction best = null;
        int[] pick = new int[m];
        for (int i = 0; i < m; i++) pick[i] = i;
        while (true) {
            Fraction[][] a = new Fraction[m][m + 1];
            for (int i = 0; i < m; i++) {
                for (int k = 0; k < m; k++) {
                    int v = pick[k];
                    a[i][k] = Fraction.of(v < t.n() ? t.amounts()[v][i] : (v - t.n() == i ? -1 : 0));
                }
                a[i][m] = Fraction.of(t.demand()[i]);
            }
            Fraction[] x = solveExactly(a, m);
            if (x != null) {
                boolean feasible = true;
                Fraction cost = Fraction.ZERO;
                for (int k = 0; k < m; k++) {
                    feasible &= x[k].signum() >= 0;
                    if (pick[k] < t.n()) cost = cost.plus(x[k].times(Fraction.of(t.costs()[pick[k]])));
                }
                if (feasible && (best == null || cost.compareTo(best) < 0)) best = cost;
            }
            int k = m - 1;
            while (k >= 0 && pick[k] == vars - m + k) k--;
            if (k < 0) break;
            pick[k]++;
            for (int i = k + 1; i < m; i++) pick[i] = pick[i - 1] + 1;
        }
        return best;
    }

    /** Gaussian elimination on the augmented m x (m+1) matrix; null if singular. */
    private static Fraction[] solveExactly(Fraction[][] a, int m) {
        for (int col = 0; col < m; col++) {
            int p = col;
            while (p < m && a[p][col].signum() == 0) p++;
            if (p == m) return null;
            Fraction[] t = a[col];
            a[col] = a[p];
            a[p] = t;
            for (int i = 0; i < m; i++) {
                if (i == col || a[i][col].signum() == 0) continue;
                Fraction f = a[i][col].dividedBy(a[col][col]);
                for (int j = col; j <= m; j++) a[i][j] = a[i][j].minus(f.times(a[col][j]));
            }
        }
        Fraction[] x = new Fraction[m];
        for (int i = 0; i < m; i++) x[i] = a[i][m].dividedBy(a[i][i]);
        return x;
    }

    /** An exact rational, always reduced, denominator positive. */
    record Fraction(BigInteger num, BigInteger den) implements Comparable<Fraction> {
        static final Fraction ZERO = of(0);

        static Fraction of(long n) {
            return new Fraction(BigInteger.valueOf(n), BigInteger.ONE);
        }

        Fraction {
            if (den.signum() < 0) {
                num = num.negate();
                den = den.negate();
            }
            BigInteger g = num.gcd(den);
            if (g.signum() != 0 && !g.equals(BigInteger.ONE)) {
                num = num.divide(g);
                den = den.divide(g);
            }
        }

        Fraction plus(Fraction o) {
            return new Fraction(num.multiply(o.den).add(o.num.multiply(den)), den.multiply(o.den));
        }

        Fraction minus(Fraction o) {
            return plus(new Fraction(o.num.negate(), o.den));
        }

        Fraction times(Fraction o) {
            return new Fraction(num.multiply(o.num), den.multiply(o.den));
        }

        Fraction dividedBy(Fraction o) {
            return new Fraction(num.multiply(o.den), den.multiply(o.num));
        }

        int signum() {
            return num.signum();
        }

        double doubleValue() {
            return num.doubleValue() / den.doubleValue();
        }

        @Override
        public int compareTo(Fraction o) {
            return num.multiply(o.den).compareTo(o.num.multiply(den));
        }
    }
}
