package dev.spillway.policies.quota;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;

class QuotaPropertiesTest {

    @Property(tries = 400)
    void admissionNeverGoesBeyondNominalPlusBorrowingLimitNorLendsMoreThanTheCohortHas(@ForAll long seed) {
        QuotaWorld world = new QuotaWorld(seed);
        for (int step = 0; step < 30; step++) {
            Workload w = world.randomWorkload("w" + step);
            AdmissionDecision d = QuotaAdmission.decide(world.state, w);
            assertThat(d.admitted() + d.waiting()).isEqualTo(w.tasks());
            if (w.allOrNothing()) assertThat(d.admitted()).isIn(0, w.tasks());
            if (d.waiting() > 0) assertThat(d.reasons()).isNotEmpty();
            world.state = d.applyTo(world.state);
            assertQuotaHolds(world);
            Statistics.label("decision").collect(d.admitted() == 0 ? "waits" : d.waiting() > 0 ? "partial" : "all");
            Statistics.label("borrows").collect(d.grants().stream().anyMatch(g -> !g.borrowed().isZero()));
        }
    }

    static void assertQuotaHolds(QuotaWorld world) {
        QuotaState s = world.state;
        Map<String, long[]> cohortLent = new HashMap<>(), cohortUsed = new HashMap<>();
        for (TenantQuota t : world.tenants) {
            for (String f : QuotaWorld.FLAVORS) {
                Amounts u = s.usage(t.tenant(), f);
                for (QuotaResource r : QuotaResource.values()) {
                    QuotaLimits l = t.limits(f, r);
                    long used = u.get(r);
                    if (t.cohort() == null) {
                        assertThat(used).as("%s %s %s outside a cohort", t.tenant(), f, r).isLessThanOrEqualTo(l.nominal());
                        continue;
                    }
                    if (l.borrowingLimit() != null) {
                        assertThat(used).as("%s %s %s within nominal + borrowingLimit", t.tenant(), f, r)
                                .isLessThanOrEqualTo(l.nominal() + l.borrowingLimit());
                    }
                    // The guaranteed part stays available to its owner: never lent.
                    if (s.lists(t.tenant(), f)) {
                        assertThat(s.available(t.tenant(), f, r)).as("%s %s %s keeps its guaranteed part", t.tenant(), f, r)
                                .isGreaterThanOrEqualTo(Math.max(0, l.guaranteed() - used));
                    }
                    String key = t.cohort() + "/" + f;
                    cohortLent.computeIfAbsent(key, k -> new long[4])[r.ordinal()] += l.lendable();
                    cohortUsed.computeIfAbsent(key, k -> new long[4])[r.ordinal()] += Math.max(0, used - l.guaranteed());
                }
            }
        }
        cohortUsed.forEach((key, used) -> {
            for (int r = 0; r < 4; r++) {
                assertThat(used[r]).as("cohort/flavor %s lends no more than its members' lendable quota in %s", key, QuotaResource.values()[r])
                        .isLessThanOrEqualTo(cohortLent.get(key)[r]);
            }
        });
    }

    @Property(tries = 300)
    void workWithinALendersGuaranteedPartIsAlwaysAdmitted(@ForAll long seed) {
        QuotaWorld world = new QuotaWorld(seed);
        world.admitRandom(25);
        for (TenantQuota t : world.tenants) {
            for (String f : t.flavors().keySet()) {
                long free = Math.max(0, t.limits(f, QuotaResource.CPU).guaranteed() - world.state.usage(t.tenant(), f).cpuMillis());
                if (t.cohort() == null || free == 0) continue;
                AdmissionDecision d = QuotaAdmission.decide(world.state, Workload.of("g", t.tenant(), 0, (int) free, new Amounts(1, 0, 0, 0), f));
                assertThat(d.admitsAll()).as("%s may use its %d guaranteed cpu in %s: %s", t.tenant(), free, f, d.reasons()).isTrue();
            }
        }
    }

    @Property(tries = 300)
    void theFairShareOrderMatchesAStraightforwardComputation(@ForAll long seed) {
        QuotaWorld world = new QuotaWorld(seed);
        world.admitRandom(25);
        Map<String, Map<String, Amounts>> usage = world.state.usage();

        List<String> expected = new ArrayList<>(world.tenants.stream().map(TenantQuota::tenant).toList());
        expected.sort(Comparator.<String, BigInteger[]>comparing(t -> referenceShare(world.tenants, usage, t, null, null), QuotaPropertiesTest::compare)
                .thenComparing(Comparator.naturalOrder()));
        assertThat(FairShare.tenantsByShare(world.state)).isEqualTo(expected);

        List<Workload> waiting = new ArrayList<>();
        for (int i = 0; i < 12; i++) waiting.add(world.randomWorkload("p" + i));
        List<Workload> reference = new ArrayList<>(waiting);
        reference.sort(Comparator.<Workload, BigInteger[]>comparing(w -> referenceShareWith(world, usage, w), QuotaPropertiesTest::compare)
                .thenComparing(w -> -w.priority()).thenComparingLong(Workload::createdMillis).thenComparing(Workload::id));
        assertThat(FairShare.order(world.state, waiting)).extracting(FairShare.Ranked::workload).isEqualTo(reference);
        Collections.shuffle(waiting, new Random(seed));
        assertThat(FairShare.order(world.state, waiting)).extracting(FairShare.Ranked::workload).as("order of the input does not matter").isEqualTo(reference);
    }

    private static BigInteger[] referenceShareWith(QuotaWorld world, Map<String, Map<String, Amounts>> usage, Workload w) {
        TenantQuota spec = world.tenants.stream().filter(t -> t.tenant().equals(w.tenant())).findFirst().orElse(null);
        if (spec == null) return INFINITE;
        for (Workload.FlavorRequest o : w.options()) {
            if (spec.flavors().containsKey(o.flavor())) return referenceShare(world.tenants, usage, w.tenant(), o.flavor(), o.perTask().times(w.tasks()));
        }
        return referenceShare(world.tenants, usage, w.tenant(), null, null);
    }

    static final BigInteger[] INFINITE = {BigInteger.ONE, BigInteger.ZERO};

    /** Max over resources of (Σ over flavors of usage above nominal) / (Σ over the cohort's members and flavors of nominal − guaranteed), over weight. */
    static BigInteger[] referenceShare(List<TenantQuota> tenants, Map<String, Map<String, Amounts>> usage, String tenant, String extraFlavor, Amounts extra) {
        TenantQuota spec = tenants.stream().filter(t -> t.tenant().equals(tenant)).findFirst().orElseThrow();
        if (spec.cohort() == null) return new BigInteger[] {BigInteger.ZERO, BigInteger.ONE};
        if (spec.weightMilli() == 0) return INFINITE;
        BigInteger[] best = {BigInteger.ZERO, BigInteger.ONE};
        for (QuotaResource r : QuotaResource.values()) {
            long lendable = 0;
            for (TenantQuota m : tenants) {
                if (!spec.cohort().equals(m.cohort())) continue;
                for (String f : m.flavors().keySet()) lendable += m.limits(f, r).lendable();
            }
            if (lendable == 0) continue;
            long borrowed = 0;
            for (String f : QuotaWorld.FLAVORS) {
                long u = usage.getOrDefault(tenant, Map.of()).getOrDefault(f, Amounts.ZERO).get(r);
                if (f.equals(extraFlavor)) u += extra.get(r);
                borrowed += Math.max(0, u - spec.limits(f, r).nominal());
            }
            BigInteger[] share = {BigInteger.valueOf(borrowed * 1000), BigInteger.valueOf(lendable).multiply(BigInteger.valueOf(spec.weightMilli()))};
            if (compare(share, best) > 0) best = share;
        }
        return best;
    }

    static int compare(BigInteger[] a, BigInteger[] b) {
        boolean ai = a[1].signum() == 0, bi = b[1].signum() == 0;
        if (ai || bi) return Boolean.compare(ai, bi);
        return a[0].multiply(b[1]).compareTo(b[0].multiply(a[1]));
    }

    @Property(tries = 1000)
    void reclaimTakesOnlyBorrowedWorkAllowedByThePolicyMinimallyAndDeterministically(@ForAll long seed) {
        QuotaWorld world = new QuotaWorld(seed);
        world.admitRandom(30);
        TenantQuota preemptor = world.tenants.get(world.random.nextInt(world.tenants.size()));
        List<String> flavors = new ArrayList<>(preemptor.flavors().keySet());
        String flavor = flavors.get(world.random.nextInt(flavors.size()));
        int priority = world.random.nextInt(4);
        QuotaState s = world.state;
        int t = s.tenantIndex(preemptor.tenant()), f = s.flavorIndex(flavor);
        Amounts need = world.randomAmounts().times(1 + world.random.nextInt(3));
        if (world.random.nextInt(5) > 0) { // mostly work that asks for its own unused nominal quota: the case reclaim is for
            long cpuRoom = s.nominal(t, f, 0) - s.usage(t, f, 0), gpuRoom = s.nominal(t, f, 2) - s.usage(t, f, 2);
            long cpu = cpuRoom > 0 ? 1 + world.random.nextInt((int) cpuRoom) : 0, gpus = gpuRoom > 0 ? 1 + world.random.nextInt((int) gpuRoom) : 0;
            if (cpu + gpus > 0) need = new Amounts(cpu, 0, gpus, 0);
        }

        Reclaim.Plan plan = Reclaim.select(s, world.admitted, preemptor.tenant(), priority, flavor, need);
        Statistics.label("outcome").collect(plan.victims().isEmpty() ? (plan.fits() ? "fits as is" : "waits") : "preempts");
        Statistics.label("outcome").coverage(c -> c.check("preempts").percentage(p -> p >= 5));

        if (preemptor.reclaim() == ReclaimPolicy.NEVER || preemptor.cohort() == null) {
            assertThat(plan.victims()).isEmpty();
        }
        boolean fitsNow = Reclaim.fits(s, t, f, need);
        if (fitsNow) assertThat(plan.victims()).isEmpty();
        assertThat(plan.fits() || plan.reason() != null).isTrue();
        QuotaState after = s;
        for (Reclaim.Victim v : plan.victims()) {
            Reclaim.Admitted a = v.workload();
            assertThat(a.tenant()).isNotEqualTo(preemptor.tenant());
            assertThat(a.flavor()).isEqualTo(flavor);
            assertThat(world.state.tenant(a.tenant()).cohort()).isEqualTo(preemptor.cohort());
            if (preemptor.reclaim() == ReclaimPolicy.LOWER_PRIORITY) assertThat(a.priority()).isLessThan(priority);
            int v2 = after.tenantIndex(a.tenant());
            boolean aboveNominal = false;
            for (int r = 0; r < QuotaState.R; r++) {
                if (need.get(r) > 0 && a.amounts().get(r) > 0 && after.usage(v2, f, r) > after.nominal(v2, f, r)) aboveNominal = true;
            }
            assertThat(aboveNominal).as("victim %s's tenant uses more than its nominal quota when picked", a.id()).isTrue();
            after = after.release(a.tenant(), flavor, a.amounts());
        }
        if (!plan.victims().isEmpty()) {
            assertThat(plan.fits()).isTrue();
            assertThat(Reclaim.fits(after, t, f, need)).isTrue();
            for (Reclaim.Victim v : plan.victims()) {
                QuotaState spared = after.reserve(v.workload().tenant(), flavor, v.workload().amounts());
                assertThat(Reclaim.fits(spared, t, f, need)).as("minimal: %s is needed", v.workload().id()).isFalse();
            }
        }
        List<Reclaim.Admitted> shuffled = new ArrayList<>(world.admitted);
        Collections.shuffle(shuffled, new Random(seed));
        assertThat(Reclaim.select(s, shuffled, preemptor.tenant(), priority, flavor, need)).isEqualTo(plan);
    }

    @Property(tries = 200)
    void admissionDependsOnTheInputsNotTheirOrder(@ForAll long seed) {
        QuotaWorld world = new QuotaWorld(seed);
        world.admitRandom(20);
        List<TenantQuota> shuffled = new ArrayList<>(world.tenants);
        Collections.shuffle(shuffled, new Random(seed));
        QuotaState again = QuotaState.of(shuffled, world.state.usage());
        for (int i = 0; i < 10; i++) {
            Workload w = world.randomWorkload("d" + i);
            assertThat(QuotaAdmission.decide(again, w)).isEqualTo(QuotaAdmission.decide(world.state, w));
        }
    }

    @Property(tries = 500)
    void cpuReadsAsCoresDoElsewhere(@ForAll @net.jqwik.api.constraints.LongRange(min = 0, max = 10_000_000) long millis) {
        assertThat(QuotaResource.CPU.format(millis)).isEqualTo(dev.spillway.core.scheduling.Resources.Format.cpu(millis));
    }
}
