package dev.spillway.core.burst;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

/** The LP-guided candidate on its own: valid whether or not the planner ends up choosing it, and good where greedy packing is not. */
class PatternPackingTest {

    @Property(tries = 200)
    void itsPlansAreValidOnTheirOwn(@ForAll("cases") BurstPlannerPropertiesTest.Case c) {
        PlanningProblem p = new PlanningProblem(c.demand(), c.offerings(), c.limits());
        List<PlanningProblem.Bin> bins = new PatternPacking(p).solve();
        Set<TaskRef> seen = new HashSet<>();
        Map<String, PoolLimits> limits = new java.util.HashMap<>();
        c.limits().forEach(l -> limits.put(l.pool(), l));
        Map<String, Integer> perPool = new java.util.HashMap<>();
        Map<String, Double> spend = new java.util.HashMap<>();
        for (PlanningProblem.Bin b : bins) {
            assertThat(b.tasks).isNotEmpty();
            Resources used = Resources.ZERO;
            for (Demand d : b.tasks) {
                assertThat(seen.add(d.task())).as("%s placed twice", d.task()).isTrue();
                assertThat(d.mayUse(b.offering)).isTrue();
                used = used.plus(d.request());
            }
            assertThat(b.offering.shape().covers(used)).isTrue();
            perPool.merge(b.offering.pool(), 1, Integer::sum);
            spend.merge(b.offering.pool(), b.offering.priceUsdPerHour(), Double::sum);
        }
        perPool.forEach((pool, n) -> assertThat(n).isLessThanOrEqualTo(limits.get(pool).maxNewInstances()));
        spend.forEach((pool, usd) -> assertThat(usd).isLessThanOrEqualTo(limits.get(pool).spendHeadroomUsdPerHour() + 1e-9));
    }

    @net.jqwik.api.Provide
    net.jqwik.api.Arbitrary<BurstPlannerPropertiesTest.Case> cases() {
        return new BurstPlannerPropertiesTest().cases();
    }

    /**
     * Cpu-heavy and memory-heavy tasks, one instance type: three of one and four of the other fill
     * an instance exactly. 25 mixed instances and 7 for the rest of the cpu-heavy ones is optimal
     * (the cpu alone needs 31.25); packing each kind by itself needs 34 + 25.
     */
    @Test
    void mixesTaskShapesOnAnInstanceTheWayTheOptimumDoes() {
        List<Demand> demand = new ArrayList<>();
        for (int i = 0; i < 100; i++) demand.add(new Demand(new TaskRef("cpu-heavy", i, 0), new Resources(2000, 1024, 0), Set.of(), false));
        for (int i = 0; i < 100; i++) demand.add(new Demand(new TaskRef("memory-heavy", i, 0), new Resources(500, 7168, 0), Set.of(), false));
        Offering type = new Offering("o1", "aws", "eu-central-1", "eu-central-1a", "EU", "m.2xlarge", new Resources(8000, 32768, 0), false, 1.0);

        ProvisionPlan plan = new BurstPlanner().plan(demand, List.of(type), List.of(PoolLimits.unlimited("aws")));

        assertThat(plan.coveredTasks()).isEqualTo(200);
        assertThat(plan.instances()).hasSize(32);
    }
}
