package dev.spillway.core.burst;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class BurstPlannerPropertiesTest {

    private final BurstPlanner planner = new BurstPlanner();

    record Case(List<Demand> demand, List<Offering> offerings, List<PoolLimits> limits) {
    }

    @Property(tries = 300)
    void plansRespectPoolLimitsAndSpendCaps(@ForAll("cases") Case c) {
        ProvisionPlan plan = planner.plan(c.demand(), c.offerings(), c.limits());
        for (PoolLimits l : c.limits()) {
            var mine = plan.instances().stream().filter(i -> i.offering().pool().equals(l.pool())).toList();
            assertThat(mine.size()).isLessThanOrEqualTo(l.maxNewInstances());
            assertThat(mine.stream().mapToDouble(i -> i.offering().priceUsdPerHour()).sum()).isLessThanOrEqualTo(l.spendHeadroomUsdPerHour() + 1e-9);
            assertThat(mine).allSatisfy(i -> assertThat(l.allowedInstanceTypes().isEmpty() || l.allowedInstanceTypes().contains(i.offering().instanceType())).isTrue());
        }
    }

    @Property(tries = 300)
    void everyInstanceHoldsItsTasksWithinTheirConstraints(@ForAll("cases") Case c) {
        ProvisionPlan plan = planner.plan(c.demand(), c.offerings(), c.limits());
        Map<TaskRef, Demand> byRef = new HashMap<>();
        c.demand().forEach(d -> byRef.put(d.task(), d));
        for (ProvisionPlan.Instance i : plan.instances()) {
            assertThat(i.tasks()).isNotEmpty();
            Resources used = Resources.ZERO;
            for (TaskRef t : i.tasks()) {
                Demand d = byRef.get(t);
                used = used.plus(d.request());
                assertThat(d.jurisdictions().isEmpty() || d.jurisdictions().contains(i.offering().jurisdiction()))
                        .as("%s placed outside its jurisdictions", t).isTrue();
                assertThat(d.spotTolerant() || !i.offering().spot()).as("%s on spot", t).isTrue();
            }
            assertThat(i.offering().shape().covers(used)).as("instance %s over-packed", i.offering().id()).isTrue();
        }
    }

    @Property(tries = 300)
    void everyTaskIsCoveredOnceOrExplained(@ForAll("cases") Case c) {
        ProvisionPlan plan = planner.plan(c.demand(), c.offerings(), c.limits());
        List<TaskRef> seen = new ArrayList<>();
        plan.instances().forEach(i -> seen.addAll(i.tasks()));
        seen.addAll(plan.notCovered().keySet());
        plan.notCovered().values().forEach(why -> assertThat(why).isNotBlank());
        assertThat(seen).containsExactlyInAnyOrderElementsOf(c.demand().stream().map(Demand::task).toList());
    }

    @Property(tries = 300)
    void neverWorseThanFirstFitDecreasing(@ForAll("cases") Case c) {
        ProvisionPlan plan = planner.plan(c.demand(), c.offerings(), c.limits());
        ProvisionPlan ffd = planner.firstFitDecreasing(c.demand(), c.offerings(), c.limits());
        assertThat(plan.coveredTasks()).isGreaterThanOrEqualTo(ffd.coveredTasks());
        if (plan.coveredTasks() == ffd.coveredTasks()) {
            assertThat(plan.costUsdPerHour()).isLessThanOrEqualTo(ffd.costUsdPerHour() + 1e-9);
        }
    }

    @Property(tries = 150)
    void smallCasesAreSolvedToTheExactOptimum(@ForAll("smallCases") Case c) {
        ProvisionPlan plan = planner.plan(c.demand(), c.offerings(), c.limits());
        double[] optimum = ExhaustiveSolver.solve(c);
        assertThat(plan.coveredTasks()).isEqualTo((int) optimum[0]);
        assertThat(plan.costUsdPerHour()).isCloseTo(optimum[1], org.assertj.core.data.Offset.offset(1e-6));
    }

    @Property(tries = 50)
    void sameInputSamePlan(@ForAll("cases") Case c) {
        assertThat(planner.plan(c.demand(), c.offerings(), c.limits())).isEqualTo(planner.plan(c.demand(), c.offerings(), c.limits()));
    }

    // ---- generators ----------------------------------------------------------------------------

    @Provide
    Arbitrary<Case> cases() {
        return cases(40, 10);
    }

    @Provide
    Arbitrary<Case> smallCases() {
        return cases(5, 4);
    }

    private Arbitrary<Case> cases(int maxTasks, int maxOfferings) {
        Arbitrary<Offering> offering = Combinators.combine(
                Arbitraries.of("cloud-a", "cloud-b"),
                Arbitraries.of("EU", "US"),
                Arbitraries.of(2000L, 4000L, 8000L, 16000L),
                Arbitraries.of(4096L, 8192L, 16384L, 65536L),
                Arbitraries.frequency(net.jqwik.api.Tuple.of(8, 0), net.jqwik.api.Tuple.of(2, 2)),
                Arbitraries.of(true, false),
                Arbitraries.doubles().between(0.02, 3.0).ofScale(3))
                .as((pool, j, cpu, mem, gpu, spot, price) -> new Offering("?", pool, j.equals("EU") ? "eu-1" : "us-1", "z",
                        j, "t" + cpu + "-" + mem + "-" + gpu, new Resources(cpu, mem, gpu), spot, price));
        Arbitrary<List<Offering>> offerings = offering.list().ofMinSize(1).ofMaxSize(maxOfferings).map(list -> {
            List<Offering> named = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                Offering o = list.get(i);
                named.add(new Offering("o" + i, o.pool(), o.region(), o.zone(), o.jurisdiction(), o.instanceType(), o.shape(), o.spot(), o.priceUsdPerHour()));
            }
            return named;
        });
        Arbitrary<Demand> demand = Combinators.combine(
                Arbitraries.of(500L, 1000L, 2000L, 4000L, 12000L),
                Arbitraries.of(512L, 2048L, 4096L, 16384L),
                Arbitraries.frequency(net.jqwik.api.Tuple.of(9, 0), net.jqwik.api.Tuple.of(1, 1)),
                Arbitraries.of(Set.<String>of(), Set.of("EU"), Set.of("US")),
                Arbitraries.of(true, false))
                .as((cpu, mem, gpu, j, spot) -> new Demand(new TaskRef("x", 0, 0), new Resources(cpu, mem, gpu), j, spot));
        Arbitrary<List<Demand>> demands = demand.list().ofMinSize(1).ofMaxSize(maxTasks).map(list -> {
            List<Demand> named = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                Demand d = list.get(i);
                named.add(new Demand(new TaskRef("job", i, 0), d.request(), d.jurisdictions(), d.spotTolerant()));
            }
            return named;
        });
        Arbitrary<PoolLimits> limitA = limits("cloud-a");
        Arbitrary<PoolLimits> limitB = limits("cloud-b");
        return Combinators.combine(demands, offerings, limitA, limitB).as((d, o, a, b) -> new Case(d, o, List.of(a, b)));
    }

    private Arbitrary<PoolLimits> limits(String pool) {
        return Combinators.combine(
                Arbitraries.frequency(net.jqwik.api.Tuple.of(5, Integer.MAX_VALUE), net.jqwik.api.Tuple.of(5, 1),
                        net.jqwik.api.Tuple.of(5, 3)),
                Arbitraries.frequency(net.jqwik.api.Tuple.of(6, Double.POSITIVE_INFINITY), net.jqwik.api.Tuple.of(4, 1.5)),
                Arbitraries.frequency(net.jqwik.api.Tuple.of(8, Set.<String>of()), net.jqwik.api.Tuple.of(2, Set.of("t8000-16384-0", "t16000-65536-2"))))
                .as((max, spend, types) -> new PoolLimits(pool, max, spend, types));
    }

    /**
     * An independent exact solver for tiny cases: every multiset of instances (up to one per
     * task), each checked by trying every assignment of tasks to those instances (or to none).
     */
    static final class ExhaustiveSolver {
        static double[] solve(Case c) {
            Set<String> allowed = new HashSet<>();
            List<Offering> usable = new ArrayList<>();
            Map<String, PoolLimits> limits = new HashMap<>();
            c.limits().forEach(l -> limits.put(l.pool(), l));
            for (Offering o : c.offerings()) {
                PoolLimits l = limits.get(o.pool());
                if (l != null && (l.allowedInstanceTypes().isEmpty() || l.allowedInstanceTypes().contains(o.instanceType()))) usable.add(o);
            }
            double[] best = {-1, Double.POSITIVE_INFINITY};
            int[] counts = new int[usable.size()];
            enumerate(c, usable, limits, counts, 0, c.demand().size(), best);
            return best;
        }

        private static void enumerate(Case c, List<Offering> usable, Map<String, PoolLimits> limits, int[] counts, int k, int left,
                                      double[] best) {
            if (k == usable.size()) {
                List<Offering> bins = new ArrayList<>();
                Map<String, Integer> perPool = new HashMap<>();
                Map<String, Double> spend = new HashMap<>();
                double cost = 0;
                for (int i = 0; i < counts.length; i++) {
                    for (int n = 0; n < counts[i]; n++) bins.add(usable.get(i));
                    perPool.merge(usable.get(i).pool(), counts[i], Integer::sum);
                    spend.merge(usable.get(i).pool(), counts[i] * usable.get(i).priceUsdPerHour(), Double::sum);
                    cost += counts[i] * usable.get(i).priceUsdPerHour();
                }
                for (var e : perPool.entrySet()) {
                    if (e.getValue() > limits.get(e.getKey()).maxNewInstances()) return;
                    if (spend.get(e.getKey()) > limits.get(e.getKey()).spendHeadroomUsdPerHour() + 1e-9) return;
                }
                int covered = maxCovered(c.demand(), bins, new Resources[bins.size()], 0, new boolean[bins.size()]);
                // Instances left empty only add cost; a plan never launches them, so they are no better.
                if (covered > best[0] || (covered == best[0] && cost < best[1] - 1e-9)) {
                    if (allUsed) {
                        best[0] = covered;
                        best[1] = cost;
                    }
                }
                return;
            }
            for (int n = 0; n <= left; n++) {
                counts[k] = n;
                enumerate(c, usable, limits, counts, k + 1, left - n, best);
            }
            counts[k] = 0;
        }

        private static boolean allUsed;

        /** Most tasks that fit into {@code bins} with every bin used; sets {@link #allUsed}. */
        private static int maxCovered(List<Demand> demand, List<Offering> bins, Resources[] used, int i, boolean[] nonEmpty) {
            if (i == demand.size()) {
                boolean all = true;
                for (boolean b : nonEmpty) all &= b;
                allUsed = all;
                return all ? 0 : Integer.MIN_VALUE / 2;
            }
            int best = Integer.MIN_VALUE / 2;
            boolean bestAllUsed = false;
            Demand d = demand.get(i);
            for (int b = 0; b < bins.size(); b++) {
                Offering o = bins.get(b);
                if (!d.mayUse(o)) continue;
                Resources now = used[b] == null ? Resources.ZERO : used[b];
                if (!o.shape().covers(now.plus(d.request()))) continue;
                Resources before = used[b];
                boolean wasNonEmpty = nonEmpty[b];
                used[b] = now.plus(d.request());
                nonEmpty[b] = true;
                int v = 1 + maxCovered(demand, bins, used, i + 1, nonEmpty);
                if (v > best) {
                    best = v;
                    bestAllUsed = allUsed;
                }
                used[b] = before;
                nonEmpty[b] = wasNonEmpty;
            }
            int skip = maxCovered(demand, bins, used, i + 1, nonEmpty);
            if (skip > best) {
                best = skip;
                bestAllUsed = allUsed;
            }
            allUsed = bestAllUsed && best >= 0;
            return best;
        }
    }
}
