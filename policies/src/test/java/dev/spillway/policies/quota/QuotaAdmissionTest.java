package dev.spillway.policies.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class QuotaAdmissionTest {

    static final Amounts ONE_CPU = new Amounts(1000, 1024, 0, 0);

    static Map<QuotaResource, QuotaLimits> cpuMem(QuotaLimits cpu) {
        return Map.of(QuotaResource.CPU, cpu, QuotaResource.MEMORY, QuotaLimits.nominal(1 << 30));
    }

    static long cores(long n) {
        return n * 1000;
    }

    /** research: 32 cores nominal, may borrow 48; ml: 64 cores nominal; both in cohort lab, flavor onprem. */
    static List<TenantQuota> lab() {
        return List.of(
                TenantQuota.of("research", "lab", Map.of("onprem", cpuMem(new QuotaLimits(cores(32), cores(48), null)))),
                TenantQuota.of("ml", "lab", Map.of("onprem", cpuMem(QuotaLimits.nominal(cores(64))))));
    }

    static Map<String, Map<String, Amounts>> using(long research, long ml) {
        return Map.of("research", Map.of("onprem", new Amounts(cores(research), 0, 0, 0)),
                "ml", Map.of("onprem", new Amounts(cores(ml), 0, 0, 0)));
    }

    @Test
    void waitingWorkSaysWhichQuotaIsShort() {
        QuotaState state = QuotaState.of(lab(), using(64, 32));
        AdmissionDecision d = QuotaAdmission.decide(state, Workload.of("j1", "research", 0, 16, ONE_CPU, "onprem"));
        assertThat(d.admitted()).isZero();
        assertThat(d.waiting()).isEqualTo(16);
        assertThat(d.waitingCanHelp()).isTrue();
        assertThat(d.reasons()).containsExactly("tenant research: cpu in flavor onprem: 64 in use + 16 asked > nominal 32 + 32 borrowable");
    }

    @Test
    void partOfAnArrayIsAdmittedAndTheRestWaits() {
        QuotaState state = QuotaState.of(lab(), using(64, 16));
        AdmissionDecision d = QuotaAdmission.decide(state, Workload.of("j1", "research", 0, 24, ONE_CPU, "onprem"));
        assertThat(d.grants()).singleElement().satisfies(g -> {
            assertThat(g.tasks()).isEqualTo(16);
            assertThat(g.borrowed().cpuMillis()).isEqualTo(cores(16));
        });
        assertThat(d.waiting()).isEqualTo(8);
        assertThat(d.reasons()).containsExactly("tenant research: cpu in flavor onprem: 80 in use + 8 asked > nominal 32 + 48 borrowable");
        QuotaState after = d.applyTo(state);
        assertThat(after.usage("research", "onprem").cpuMillis()).isEqualTo(cores(80));
        assertThat(after.available("research", "onprem", QuotaResource.CPU)).isZero();
        assertThat(state.usage("research", "onprem").cpuMillis()).as("the state is immutable").isEqualTo(cores(64));
    }

    @Test
    void aTenantWhoseNominalIsLentOutIsToldSo() {
        QuotaState state = QuotaState.of(lab(), using(0, 96));
        AdmissionDecision d = QuotaAdmission.decide(state, Workload.of("j1", "research", 0, 8, ONE_CPU, "onprem"));
        assertThat(d.reasons()).containsExactly("tenant research: cpu in flavor onprem: 0 in use + 8 asked > nominal 32, of which 32 is lent out in cohort lab");
        assertThat(d.waitingCanHelp()).isTrue();
    }

    @Test
    void aLendingLimitKeepsTheGuaranteedPartForItsOwner() {
        List<TenantQuota> tenants = List.of(
                TenantQuota.of("research", "lab", Map.of("onprem", cpuMem(QuotaLimits.nominal(cores(32))))),
                TenantQuota.of("ml", "lab", Map.of("onprem", cpuMem(new QuotaLimits(cores(64), null, cores(48))))));
        QuotaState state = QuotaState.of(tenants, Map.of());
        // research may borrow ml's 48 lendable cores, not its 16 guaranteed ones
        assertThat(state.available("research", "onprem", QuotaResource.CPU)).isEqualTo(cores(80));
        AdmissionDecision d = QuotaAdmission.decide(state, Workload.of("j1", "research", 0, 100, ONE_CPU, "onprem"));
        assertThat(d.admitted()).isEqualTo(80);
        QuotaState after = d.applyTo(state);
        assertThat(after.available("ml", "onprem", QuotaResource.CPU)).isEqualTo(cores(16));
        assertThat(QuotaAdmission.decide(after, Workload.of("j2", "ml", 0, 16, ONE_CPU, "onprem")).admitsAll()).isTrue();
    }

    @Test
    void flavorsAreTriedInOrderAndAnArraySpillsOver() {
        List<TenantQuota> tenants = List.of(TenantQuota.of("research", null, Map.of(
                "onprem", cpuMem(QuotaLimits.nominal(cores(30))),
                "cloud-spot", Map.of(QuotaResource.CPU, QuotaLimits.nominal(cores(100)), QuotaResource.MEMORY, QuotaLimits.nominal(1 << 30),
                        QuotaResource.SPEND, QuotaLimits.nominal(5_000_000)))));
        QuotaState state = QuotaState.of(tenants, Map.of());
        Workload w = new Workload("j1", "research", 0, 0, 100, List.of(
                new Workload.FlavorRequest("onprem", ONE_CPU),
                new Workload.FlavorRequest("cloud-spot", new Amounts(1000, 1024, 0, 100_000))), false); // $0.10/h a task
        AdmissionDecision d = QuotaAdmission.decide(state, w);
        assertThat(d.grants()).extracting(AdmissionDecision.Grant::flavor, AdmissionDecision.Grant::tasks)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("onprem", 30), org.assertj.core.groups.Tuple.tuple("cloud-spot", 50));
        assertThat(d.waiting()).isEqualTo(20);
        assertThat(d.reasons()).containsExactly(
                "tenant research: cpu in flavor onprem: 30 in use + 20 asked > nominal 30 + 0 borrowable",
                "tenant research: spendUsdPerHour in flavor cloud-spot: $5.00/h in use + $2.00/h asked > nominal $5.00/h + $0.00/h borrowable");
    }

    @Test
    void anAllOrNothingWorkloadGoesWholeIntoOneFlavorOrWaits() {
        List<TenantQuota> tenants = List.of(TenantQuota.of("research", null, Map.of(
                "onprem", cpuMem(QuotaLimits.nominal(cores(30))), "cloud-spot", cpuMem(QuotaLimits.nominal(cores(40))))));
        QuotaState state = QuotaState.of(tenants, Map.of());
        AdmissionDecision gang = QuotaAdmission.decide(state, Workload.of("j1", "research", 0, 35, ONE_CPU, "onprem", "cloud-spot").withAllOrNothing(true));
        assertThat(gang.grants()).singleElement().satisfies(g -> assertThat(g.flavor()).isEqualTo("cloud-spot"));
        AdmissionDecision tooBig = QuotaAdmission.decide(state, Workload.of("j2", "research", 0, 50, ONE_CPU, "onprem", "cloud-spot").withAllOrNothing(true));
        assertThat(tooBig.admitted()).isZero();
        assertThat(tooBig.waitingCanHelp()).isFalse();
        assertThat(tooBig.reasons()).containsExactly(
                "tenant research: cpu in flavor onprem: 50 asked for 50 tasks together > at most 30 ever (nominal 30 (in no cohort))",
                "tenant research: cpu in flavor cloud-spot: 50 asked for 50 tasks together > at most 40 ever (nominal 40 (in no cohort))");
    }

    @Test
    void workThatCanNeverFitSaysWaitingWillNotHelp() {
        QuotaState state = QuotaState.of(lab(), Map.of());
        AdmissionDecision gpu = QuotaAdmission.decide(state, Workload.of("j1", "research", 0, 1, new Amounts(1000, 0, 1, 0), "onprem"));
        assertThat(gpu.waitingCanHelp()).isFalse();
        assertThat(gpu.reasons()).containsExactly("tenant research: gpus in flavor onprem: 1 asked per task > at most 0 ever (nominal 0 + borrowingLimit 0)");
        AdmissionDecision elsewhere = QuotaAdmission.decide(state, Workload.of("j2", "research", 0, 1, ONE_CPU, "cloud-spot"));
        assertThat(elsewhere.reasons()).containsExactly("tenant research has no quota in flavor cloud-spot");
        AdmissionDecision stranger = QuotaAdmission.decide(state, Workload.of("j3", "visitors", 0, 1, ONE_CPU, "onprem"));
        assertThat(stranger.reasons()).containsExactly("tenant visitors has no quota (no Tenant document names it)");
        assertThat(stranger.waitingCanHelp()).isFalse();
    }

    @Test
    void limitsThatMeanNothingOutsideACohortAreRefused() {
        assertThatThrownBy(() -> TenantQuota.of("solo", null, Map.of("onprem", Map.of(QuotaResource.CPU, new QuotaLimits(10, 5L, null)))))
                .hasMessage("tenant solo: cpu in flavor onprem has a borrowingLimit or lendingLimit but the tenant is in no cohort");
        assertThatThrownBy(() -> new QuotaLimits(10, null, 11L)).hasMessage("lendingLimit 11 exceeds the nominal quota 10");
    }

    @Test
    void theDominantResourceShareIsBorrowingOverWhatTheCohortLendsDividedByWeight() {
        // Cohort lends 96 cores; research borrows 48 of them: 0.5, weight 2: 0.25.
        List<TenantQuota> tenants = List.of(lab().get(0).withWeightMilli(2000), lab().get(1));
        QuotaState state = QuotaState.of(tenants, using(80, 0));
        Share s = state.share("research");
        assertThat(s.value()).isEqualTo(0.25);
        assertThat(s.dominant()).isEqualTo(QuotaResource.CPU);
        assertThat(state.share("ml")).isEqualTo(Share.ZERO);
        assertThat(FairShare.tenantsByShare(state)).containsExactly("ml", "research");
        assertThat(QuotaState.of(List.of(tenants.get(0).withWeightMilli(0), tenants.get(1)), Map.of()).share("research").isInfinite()).isTrue();
    }

    @Test
    void workWithinNominalGoesBeforeBorrowingWorkWhateverItsPriority() {
        QuotaState state = QuotaState.of(lab(), using(32, 0));
        Workload borrowing = Workload.of("a", "research", 100, 8, ONE_CPU, "onprem");
        Workload withinNominal = Workload.of("b", "ml", 0, 8, ONE_CPU, "onprem");
        assertThat(FairShare.order(state, List.of(borrowing, withinNominal))).extracting(r -> r.workload().id()).containsExactly("b", "a");
    }

    @Test
    void aTenantReclaimsItsNominalFromTheTenantFurthestAboveItsShare() {
        List<TenantQuota> tenants = List.of(
                TenantQuota.of("research", "lab", Map.of("onprem", cpuMem(QuotaLimits.nominal(cores(32))))).withReclaim(ReclaimPolicy.LOWER_PRIORITY),
                TenantQuota.of("ml", "lab", Map.of("onprem", cpuMem(QuotaLimits.nominal(cores(32))))),
                TenantQuota.of("web", "lab", Map.of("onprem", cpuMem(QuotaLimits.nominal(cores(32))))));
        // ml borrows 32 cores (all research lends), web is at its nominal; research holds nothing and wants 16 of its 32 back.
        List<Reclaim.Admitted> admitted = List.of(
                new Reclaim.Admitted("ml-1", "ml", "onprem", 0, 1, new Amounts(cores(40), 0, 0, 0)),
                new Reclaim.Admitted("ml-2", "ml", "onprem", 0, 2, new Amounts(cores(16), 0, 0, 0)),
                new Reclaim.Admitted("ml-3", "ml", "onprem", 5, 3, new Amounts(cores(8), 0, 0, 0)),
                new Reclaim.Admitted("web-1", "web", "onprem", 0, 4, new Amounts(cores(32), 0, 0, 0)));
        QuotaState state = QuotaState.of(tenants, Map.of(
                "ml", Map.of("onprem", new Amounts(cores(64), 0, 0, 0)), "web", Map.of("onprem", new Amounts(cores(32), 0, 0, 0))));
        Amounts need = new Amounts(cores(16), 0, 0, 0);
        assertThat(QuotaAdmission.decide(state, Workload.of("r", "research", 3, 16, new Amounts(1000, 0, 0, 0), "onprem")).admitted()).isZero();

        Reclaim.Plan plan = Reclaim.select(state, admitted, "research", 3, "onprem", need);
        // web is within its nominal quota: never a victim; ml's priority-5 work is not lower than 3; its newest low-priority work goes first.
        assertThat(plan.victims()).extracting(v -> v.workload().id()).containsExactly("ml-2");
        assertThat(plan.victims().get(0).reason())
                .isEqualTo("reclaims quota lent to tenant ml for tenant research: ml uses 64 cpu in flavor onprem > nominal 32 (share 0.3333 (cpu))");
        assertThat(plan.fits()).isTrue();

        Reclaim.Plan again = Reclaim.select(state, admitted, "research", 3, "onprem", need);
        assertThat(Reclaim.select(QuotaState.of(List.of(tenants.get(0).withReclaim(ReclaimPolicy.NEVER), tenants.get(1), tenants.get(2)), state.usage()),
                admitted, "research", 3, "onprem", need).victims()).isEmpty();
        assertThat(again).as("deterministic").isEqualTo(plan);
        assertThat(Reclaim.select(state, admitted, "research", 3, "onprem", new Amounts(cores(40), 0, 0, 0)).reason())
                .isEqualTo("tenant research: cpu in flavor onprem: 0 in use + 40 asked > nominal 32: only nominal quota is reclaimed, never room to borrow");
    }
}
