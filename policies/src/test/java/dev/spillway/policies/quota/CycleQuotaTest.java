package dev.spillway.policies.quota;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Veto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

/** A scheduling cycle's quota: vetoes before planning, reservations in plan order after it, reclaim for lenders. */
class CycleQuotaTest {

    /** Pools of the random worlds: f1 stands for two, f2 and f3 for one each. */
    private static final Map<String, Flavor> FLAVORS = Map.of(
            "f1", new Flavor("f1", Set.of("p1a", "p1b")), "f2", new Flavor("f2", Set.of("p2")), "f3", new Flavor("f3", Set.of("p3")));
    private static final List<String> POOLS = List.of("p1a", "p1b", "p2", "p3", "elsewhere");

    @Property(tries = 400)
    void placementsKeptInPlanOrderNeverTakeATenantBeyondItsQuota(@ForAll long seed) {
        QuotaWorld world = new QuotaWorld(seed);
        Map<String, List<String>> order = new HashMap<>();
        for (TenantQuota t : world.tenants) order.put(t.tenant(), List.copyOf(t.flavors().keySet()));
        CycleQuota quota = new CycleQuota(world.tenants, order, FLAVORS, List.of(), n -> 0);
        for (int i = 0; i < 60; i++) {
            String tenant = world.random.nextInt(10) == 0 ? "ghost" : world.tenants.get(world.random.nextInt(world.tenants.size())).tenant();
            String pool = POOLS.get(world.random.nextInt(POOLS.size()));
            Amounts a = world.randomAmounts();
            Resources request = new Resources(a.cpuMillis(), 0, (int) a.gpus());
            Flavor flavor = quota.flavorOf(tenant, pool, false);
            QuotaState before = quota.state();
            String refused = quota.reserve(tenant, 0, node(pool), request);
            if (!quota.governs(tenant)) {
                assertThat(refused).as("a tenant without a quota is not limited").isNull();
                continue;
            }
            if (flavor == null) {
                assertThat(refused).as("no flavor of %s includes %s", tenant, pool).contains("has no quota for pool " + pool);
                continue;
            }
            // Kept exactly when admission would admit one such task now, and then counted in the pool's flavor.
            boolean admits = QuotaAdmission.decide(before, Workload.of("x", tenant, 0, 1, Amounts.of(request, 0), flavor.name())).admitted() == 1;
            assertThat(refused == null).isEqualTo(admits);
            if (refused == null) {
                assertThat(quota.state().usage(tenant, flavor.name())).isEqualTo(before.usage(tenant, flavor.name()).plus(Amounts.of(request, 0)));
            }
            world.state = quota.state();
            QuotaPropertiesTest.assertQuotaHolds(world);
        }
    }

    /** A node of {@code pool} larger than any task of these tests. */
    static NodeView node(String pool) {
        return new NodeView(pool + "-node", pool, new Resources(1_000_000, 1 << 30, 64), Resources.ZERO, Map.of(), true);
    }

    private static TenantQuota tenant(String name, String cohort, ReclaimPolicy reclaim, String flavor, long cpuMillis) {
        return new TenantQuota(name, cohort, 1000, reclaim, Map.of(flavor, Map.of(QuotaResource.CPU, QuotaLimits.nominal(cpuMillis),
                QuotaResource.MEMORY, QuotaLimits.nominal(1 << 20))));
    }

    @Test
    void aTaskCountsInTheFirstOfItsTenantsFlavorsThatHoldsThePoolAndWaitsNamingTheQuota() {
        Map<String, Flavor> flavors = Flavors.resolve(List.of("on-prem", "rack-a", "cloud", "nowhere"),
                Map.of("rack-a", false, "rack-b", false, "aws-eu", true));
        assertThat(flavors).containsOnlyKeys("on-prem", "rack-a", "cloud");
        assertThat(flavors.get("on-prem").pools()).containsExactlyInAnyOrder("rack-a", "rack-b");
        assertThat(flavors.get("cloud").pools()).containsExactly("aws-eu");

        TenantQuota research = new TenantQuota("research", null, 1000, ReclaimPolicy.NEVER, Map.of(
                "rack-a", Map.of(QuotaResource.CPU, QuotaLimits.nominal(2000), QuotaResource.MEMORY, QuotaLimits.nominal(4096)),
                "on-prem", Map.of(QuotaResource.CPU, QuotaLimits.nominal(8000), QuotaResource.MEMORY, QuotaLimits.nominal(16384))));
        CycleQuota quota = new CycleQuota(List.of(research), Map.of("research", List.of("rack-a", "on-prem")), flavors,
                List.of(new CycleQuota.Held("research", "rack-a", false, new Amounts(2000, 1024, 0, 0)),
                        new CycleQuota.Held("research", "rack-b", false, new Amounts(1000, 1024, 0, 0))), n -> 0);
        Resources oneCore = new Resources(1000, 512, 0);

        assertThat(quota.flavorOf("research", "rack-a", false).name()).isEqualTo("rack-a");
        assertThat(quota.flavorOf("research", "rack-b", false).name()).isEqualTo("on-prem");
        // rack-a's quota is full: waiting for its own work to end can help.
        Veto full = quota.check("research", 0, node("rack-a"), oneCore);
        assertThat(full.kind()).isEqualTo(Veto.Kind.TRANSIENT);
        assertThat(full.filter()).isEqualTo(CycleQuota.FILTER);
        assertThat(full.reason()).contains("tenant research: cpu in flavor rack-a");
        assertThat(quota.check("research", 0, node("rack-b"), oneCore)).isNull();
        // No flavor of the tenant holds the cloud pool: static.
        Veto cloud = quota.check("research", 0, node("aws-eu"), oneCore);
        assertThat(cloud.kind()).isEqualTo(Veto.Kind.STATIC);
        assertThat(cloud.reason()).isEqualTo("tenant research has no quota for pool aws-eu (its flavors: [rack-a, on-prem])");
        // More than the quota could ever hold: static.
        assertThat(quota.check("research", 0, node("rack-b"), new Resources(9000, 512, 0)).kind()).isEqualTo(Veto.Kind.STATIC);
        // Unknown tenants are not limited.
        assertThat(quota.check("ops", 0, node("aws-eu"), oneCore)).isNull();

        // on-prem holds 1 core of 8 (rack-b): seven more one-core tasks are kept, the eighth is refused with the numbers.
        for (int i = 0; i < 7; i++) assertThat(quota.reserve("research", 0, node("rack-b"), oneCore)).isNull();
        assertThat(quota.reserve("research", 0, node("rack-b"), oneCore)).contains("cpu in flavor on-prem");
    }

    @Test
    void onACloudNodeATaskSpendsItsShareOfThePriceAndBurstingBuysNoMoreThanTheSpendQuotaLetsRun() {
        Map<String, Flavor> flavors = Flavors.resolve(List.of("on-prem", "cloud"), Map.of("rack", false, "aws", true));
        // research may spend $0.10/h in the cloud; its cpu quota there is not what binds.
        TenantQuota research = new TenantQuota("research", null, 1000, ReclaimPolicy.NEVER, Map.of(
                "on-prem", Map.of(QuotaResource.CPU, QuotaLimits.nominal(1000), QuotaResource.MEMORY, QuotaLimits.nominal(8192)),
                "cloud", Map.of(QuotaResource.CPU, QuotaLimits.nominal(64_000), QuotaResource.MEMORY, QuotaLimits.nominal(1 << 20),
                        QuotaResource.SPEND, QuotaLimits.nominal(100_000))));
        Map<String, List<String>> order = Map.of("research", List.of("on-prem", "cloud"));
        java.util.function.ToDoubleFunction<NodeView> prices = n -> n.pool().equals("aws") ? 0.20 : 0;
        NodeView cloud = new NodeView("aws-1", "aws", new Resources(4000, 16_384, 0), Resources.ZERO, Map.of(), true);
        Resources oneCore = new Resources(1000, 1024, 0);

        CycleQuota quota = new CycleQuota(List.of(research), order, flavors, List.of(), prices);
        // A quarter of the node's cpu: a quarter of its $0.20/h; half its memory: half of it, whatever its cpu.
        assertThat(quota.need(cloud, oneCore).spendMicroUsdPerHour()).isEqualTo(50_000);
        assertThat(quota.need(cloud, new Resources(1000, 8192, 0)).spendMicroUsdPerHour()).isEqualTo(100_000);
        assertThat(quota.need(node("rack"), oneCore).spendMicroUsdPerHour()).isZero();
        assertThat(quota.reserve("research", 0, cloud, oneCore)).isNull();
        assertThat(quota.reserve("research", 0, cloud, oneCore)).isNull();
        assertThat(quota.reserve("research", 0, cloud, oneCore)).contains("spendUsdPerHour in flavor cloud");
        assertThat(quota.reserve("research", 0, node("rack"), oneCore)).as("on-prem spends nothing").isNull();

        // Bursting for two jobs in queue order, with $0.10/h unused: a one-core task spends $0.05/h on a big
        // instance and $0.04/h on a small one; two fit either way, counted at the small one.
        Offering big = new Offering("aws:a:big:on-demand", "aws", "eu", "a", "EU", "big", new Resources(4000, 16_384, 0), false, 0.20);
        Offering small = new Offering("aws:a:small:on-demand", "aws", "eu", "a", "EU", "small", new Resources(2000, 8192, 0), false, 0.08);
        Offering elsewhere = new Offering("gcp:b:x:on-demand", "gcp", "eu", "b", "EU", "x", new Resources(2000, 8192, 0), false, 0.01);
        CycleQuota.BurstAllowance allowance = new CycleQuota(List.of(research), order, flavors, List.of(), prices).burstAllowance();
        CycleQuota.Allowed first = allowance.allow("research", 0, oneCore, 5, List.of(big, small, elsewhere));
        assertThat(first.tasks()).isEqualTo(2);
        assertThat(first.refused()).containsOnlyKeys(elsewhere.id());
        assertThat(first.refused().get(elsewhere.id())).contains("has no quota for pool gcp");
        assertThat(first.beyond()).containsOnlyKeys(big.id(), small.id(), elsewhere.id());
        assertThat(first.beyond().get(small.id())).contains("takes 2 of its 5 waiting tasks on cloud capacity now");
        // $0.08/h of $0.10/h is counted: the next job's one-core task fits nowhere.
        CycleQuota.Allowed second = allowance.allow("research", 0, oneCore, 1, List.of(big, small));
        assertThat(second.tasks()).isZero();
        assertThat(second.refused().get(small.id())).contains("spendUsdPerHour in flavor cloud");
        assertThat(allowance.allow("ops", 0, oneCore, 3, List.of(big))).as("a tenant without a quota is not limited").isNull();
    }

    @Test
    void spotAndOnDemandCapacityOfTheCloudAreFlavorsOfTheirOwn() {
        Map<String, Flavor> flavors = Flavors.resolve(List.of("cloud-spot", "cloud-on-demand"), Map.of("rack", false, "aws", true, "azure", true));
        assertThat(flavors.get("cloud-spot").pools()).containsExactlyInAnyOrder("aws", "azure");
        assertThat(flavors.get("cloud-spot").includes("aws", true)).isTrue();
        assertThat(flavors.get("cloud-spot").includes("aws", false)).isFalse();
        assertThat(flavors.get("cloud-on-demand").includes("azure", false)).isTrue();
        assertThat(flavors.get("cloud-on-demand").includes("rack", false)).isFalse();

        // batch may use 8 spot cores in the cloud and no on-demand capacity; it holds 6 spot cores now.
        TenantQuota batch = new TenantQuota("batch", null, 1000, ReclaimPolicy.NEVER, Map.of("cloud-spot",
                Map.of(QuotaResource.CPU, QuotaLimits.nominal(8000), QuotaResource.MEMORY, QuotaLimits.nominal(1 << 20))));
        Map<String, List<String>> order = Map.of("batch", List.of("cloud-spot"));
        List<CycleQuota.Held> held = List.of(new CycleQuota.Held("batch", "aws", true, new Amounts(6000, 1024, 0, 0)));
        Resources big = new Resources(16_000, 65_536, 0);
        NodeView spotNode = new NodeView("aws-s", "aws", big, Resources.ZERO, Map.of(dev.spillway.core.scheduling.TaskShape.SPOT_LABEL, "true"), true);
        NodeView onDemandNode = new NodeView("aws-d", "aws", big, Resources.ZERO, Map.of(), true);
        Resources twoCores = new Resources(2000, 512, 0);

        CycleQuota quota = new CycleQuota(List.of(batch), order, flavors, held, n -> 0);
        assertThat(quota.check("batch", 0, spotNode, twoCores)).isNull();
        Veto onDemand = quota.check("batch", 0, onDemandNode, twoCores);
        assertThat(onDemand.kind()).isEqualTo(Veto.Kind.STATIC);
        assertThat(onDemand.reason()).isEqualTo("tenant batch has no quota for on-demand capacity in pool aws (its flavors: [cloud-spot])");
        assertThat(quota.reserve("batch", 0, spotNode, twoCores)).isNull();
        assertThat(quota.reserve("batch", 0, spotNode, twoCores)).contains("cpu in flavor cloud-spot");

        // Bursting buys spot for it, never on-demand.
        Offering spot = new Offering("aws:a:m:spot", "aws", "eu", "a", "EU", "m", new Resources(4000, 16_384, 0), true, 0.05);
        Offering onDemandOffering = new Offering("aws:a:m:on-demand", "aws", "eu", "a", "EU", "m", new Resources(4000, 16_384, 0), false, 0.20);
        CycleQuota.Allowed allowed = new CycleQuota(List.of(batch), order, flavors, held, n -> 0).burstAllowance()
                .allow("batch", 0, twoCores, 3, List.of(spot, onDemandOffering));
        assertThat(allowed.tasks()).isEqualTo(1);
        assertThat(allowed.refused()).containsOnlyKeys(onDemandOffering.id());
        assertThat(allowed.refused().get(onDemandOffering.id())).contains("no quota for on-demand capacity in pool aws");
    }

    @Test
    void aLenderTakesBackWhatItLentAndABorrowerWithinItsNominalLosesNothing() {
        TenantQuota lender = tenant("lender", "lab", ReclaimPolicy.ANY, "racks", 2000);
        TenantQuota borrower = tenant("borrower", "lab", ReclaimPolicy.NEVER, "racks", 2000);
        Map<String, Flavor> flavors = Map.of("racks", new Flavor("racks", Set.of("onprem")));
        Map<String, List<String>> order = Map.of("lender", List.of("racks"), "borrower", List.of("racks"));
        Amounts core = new Amounts(1000, 256, 0, 0);
        List<Reclaim.Admitted> running = new ArrayList<>();
        for (int i = 0; i < 4; i++) running.add(new Reclaim.Admitted("b/" + i, "borrower", "racks", 0, i, core));
        CycleQuota quota = new CycleQuota(List.of(lender, borrower), order, flavors,
                List.of(new CycleQuota.Held("borrower", "onprem", false, core.times(4))), n -> 0);
        Resources oneCore = new Resources(1000, 256, 0);

        assertThat(quota.check("lender", 0, node("onprem"), oneCore).kind()).isEqualTo(Veto.Kind.TRANSIENT);
        assertThat(quota.mayReclaim("lender")).isTrue();
        assertThat(quota.mayReclaim("borrower")).isFalse();
        assertThat(quota.cohortOf("lender")).containsExactly("borrower", "lender");
        // Two tasks of the lender wait: the two most recently admitted borrowed tasks go.
        assertThat(quota.reclaim("lender", 0, oneCore, 2, running)).extracting(v -> v.workload().id()).containsExactlyInAnyOrder("b/3", "b/2");
        // Five waiting tasks ask for more than the lender's nominal 2 cores: only what is within it is taken back.
        assertThat(quota.reclaim("lender", 0, oneCore, 5, running)).hasSize(2);
        // The borrower may not reclaim (Never), and with the borrower at its nominal quota the lender would take nothing.
        assertThat(quota.reclaim("borrower", 0, oneCore, 1, running)).isEmpty();
        CycleQuota atNominal = new CycleQuota(List.of(lender, borrower), order, flavors, List.of(new CycleQuota.Held("borrower", "onprem", false, core.times(2))), n -> 0);
        assertThat(atNominal.reclaim("lender", 0, oneCore, 2, running.subList(0, 2))).isEmpty();
    }
}
