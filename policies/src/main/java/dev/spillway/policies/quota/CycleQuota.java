package dev.spillway.policies.quota;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Veto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One scheduling cycle's quota. A task of a tenant with a quota counts in the flavor of the pool
 * it runs in (the first of the tenant's flavors, in its document's order, that includes the pool).
 * Before planning, {@link #check} tells the scheduler's filter whether a tenant's task may go to a
 * node of a pool at all (a static veto when none of its flavors includes the pool, a transient one
 * naming the quota when it is full now); after planning, {@link #reserve} takes the plan's
 * placements in order and keeps only those that still fit once the earlier ones are reserved, so
 * a cycle never admits beyond quota however many tasks it places. Tenants no Tenant document
 * gives a quota are not limited. Not thread-safe: one cycle's working state.
 */
public final class CycleQuota {

    /** The name of the quota filter's vetoes; under {@code policy} so that explanations name it. */
    public static final String FILTER = "policy/quota";

    private final Map<String, TenantQuota> tenants = new HashMap<>();
    /** Per tenant, its flavors that stand for some pool, in its document's order. */
    private final Map<String, List<Flavor>> flavorsOf;
    private final Map<CheckKey, Veto> checked = new HashMap<>();

    private record CheckKey(String tenant, String pool, int priority, Resources request) {
    }
    private final QuotaState start;
    private QuotaState state;

    /**
     * @param tenants    the tenants' quotas
     * @param order      per tenant, its flavor names in its document's order
     * @param flavors    the flavors that stand for pools ({@link Flavors#resolve})
     * @param usageByPool what each tenant holds now, per pool; usage in a pool none of the
     *                   tenant's flavors includes is not counted
     */
    public CycleQuota(List<TenantQuota> tenants, Map<String, List<String>> order, Map<String, Flavor> flavors,
                      Map<String, Map<String, Amounts>> usageByPool) {
        Map<String, List<Flavor>> of = new HashMap<>();
        for (TenantQuota t : tenants) {
            this.tenants.put(t.tenant(), t);
            List<Flavor> mine = new ArrayList<>();
            for (String name : order.getOrDefault(t.tenant(), List.copyOf(t.flavors().keySet()))) {
                Flavor f = flavors.get(name);
                if (f != null && t.flavors().containsKey(name)) mine.add(f);
            }
            of.put(t.tenant(), List.copyOf(mine));
        }
        this.flavorsOf = Map.copyOf(of);
        Map<String, Map<String, Amounts>> usage = new HashMap<>();
        usageByPool.forEach((tenant, byPool) -> byPool.forEach((pool, amounts) -> {
            Flavor f = flavorOf(tenant, pool);
            if (f != null) usage.computeIfAbsent(tenant, k -> new HashMap<>()).merge(f.name(), amounts, Amounts::plus);
        }));
        this.start = QuotaState.of(tenants, usage);
        this.state = start;
    }

    /**
     * This cycle's quota as the scheduler's filter ({@value #FILTER}): {@link #check} for the tenant
     * and priority of the job each shape belongs to; a shape whose job is unknown passes.
     *
     * @param tenantOf   a shape's tenant, null when its job is unknown
     * @param priorityOf a shape's priority
     */
    public dev.spillway.core.scheduling.NodeFilter filter(java.util.function.Function<dev.spillway.core.scheduling.TaskShape, String> tenantOf,
                                                          java.util.function.ToIntFunction<dev.spillway.core.scheduling.TaskShape> priorityOf) {
        return new dev.spillway.core.scheduling.NodeFilter() {
            @Override
            public String name() {
                return FILTER;
            }

            @Override
            public Veto check(dev.spillway.core.scheduling.TaskShape shape, dev.spillway.core.scheduling.NodeSlot slot) {
                String tenant = tenantOf.apply(shape);
                return tenant == null ? null : CycleQuota.this.check(tenant, priorityOf.applyAsInt(shape), slot.view().pool(), shape.request());
            }
        };
    }

    /** Whether a Tenant document gives this tenant a quota. */
    public boolean governs(String tenant) {
        return tenants.containsKey(tenant);
    }

    /** The flavor a task of {@code tenant} counts in on {@code pool}; null when none of its flavors includes the pool. */
    public Flavor flavorOf(String tenant, String pool) {
        List<Flavor> mine = flavorsOf.get(tenant);
        if (mine == null) return null;
        for (Flavor f : mine) if (f.includes(pool)) return f;
        return null;
    }

    /**
     * Whether a task of {@code tenant} asking for {@code request} may be placed on a node of
     * {@code pool}, as the cycle started: null when it may, else a veto: static when none of the
     * tenant's flavors includes the pool or the task could never fit its quota there, transient
     * (naming tenant, resource, flavor and the numbers) when the quota is only full now.
     */
    public Veto check(String tenant, int priority, String pool, Resources request) {
        if (!governs(tenant)) return null;
        CheckKey key = new CheckKey(tenant, pool, priority, request);
        Veto v = checked.get(key);
        if (v == null) {
            v = decide(start, tenant, priority, pool, request);
            checked.put(key, v);
        }
        return v == PASS ? null : v;
    }

    /**
     * Reserves one placed task in the cycle's working state: null when it fits (and is now
     * counted), else why not; the caller then takes the placement back.
     */
    public String reserve(String tenant, int priority, String pool, Resources request) {
        if (!governs(tenant)) return null;
        Flavor f = flavorOf(tenant, pool);
        if (f == null) return noFlavor(tenant, pool).reason();
        AdmissionDecision d = QuotaAdmission.decide(state, Workload.of("task", tenant, priority, 1, Amounts.of(request, 0), f.name()));
        if (d.admitted() == 0) return d.reasons().isEmpty() ? "quota of tenant " + tenant + " is full" : d.reasons().get(0);
        state = d.applyTo(state);
        return null;
    }

    /** Whether the tenant may take lent quota back by preemption: it is in a cohort and its {@code reclaimWithinCohort} is not Never. */
    public boolean mayReclaim(String tenant) {
        TenantQuota q = tenants.get(tenant);
        return q != null && q.cohort() != null && q.reclaim() != ReclaimPolicy.NEVER;
    }

    /** The tenants of this tenant's cohort, itself included (just itself outside a cohort). */
    public List<String> cohortOf(String tenant) {
        TenantQuota q = tenants.get(tenant);
        if (q == null || q.cohort() == null) return List.of(tenant);
        return tenants.values().stream().filter(o -> q.cohort().equals(o.cohort())).map(TenantQuota::tenant).sorted().toList();
    }

    /**
     * Borrowed work to preempt so that waiting tasks of {@code tenant} get back nominal quota
     * that its cohort lent out ({@link Reclaim}, per the tenant's {@code reclaimWithinCohort}):
     * in the first of its flavors, in its order, where as many of the {@code tasks} as fit within
     * its nominal quota would fit once the victims are gone. Empty when the tenant may not
     * reclaim, is not short of its nominal quota anywhere, or no borrowed work may be taken.
     *
     * @param running every task on a node now, as admitted work in the flavor of its pool
     */
    public List<Reclaim.Victim> reclaim(String tenant, int priority, Resources request, int tasks, List<Reclaim.Admitted> running) {
        TenantQuota quota = tenants.get(tenant);
        if (quota == null || quota.cohort() == null || quota.reclaim() == ReclaimPolicy.NEVER || tasks < 1) return List.of();
        int t = state.tenantIndex(tenant);
        for (Flavor flavor : flavorsOf.getOrDefault(tenant, List.of())) {
            int f = state.flavorIndex(flavor.name());
            Amounts perTask = Amounts.of(request, 0);
            long k = tasks;
            for (int r = 0; r < QuotaState.R && k > 0; r++) {
                long a = perTask.get(r);
                if (a > 0) k = Math.min(k, Math.max(0, state.nominal(t, f, r) - state.usage(t, f, r)) / a);
            }
            if (k == 0) continue; // at or above its nominal quota here: nothing to take back
            Reclaim.Plan plan = Reclaim.select(state, running, tenant, priority, flavor.name(), perTask.times(k));
            if (plan.fits() && !plan.victims().isEmpty()) return plan.victims();
            if (plan.fits()) return List.of(); // it fits already: capacity, not quota, holds it back
        }
        return List.of();
    }

    /** The quota state with this cycle's reservations made. */
    public QuotaState state() {
        return state;
    }

    private static final Veto PASS = Veto.fixed(FILTER, "pass");

    private Veto decide(QuotaState s, String tenant, int priority, String pool, Resources request) {
        Flavor f = flavorOf(tenant, pool);
        if (f == null) return noFlavor(tenant, pool);
        AdmissionDecision d = QuotaAdmission.decide(s, Workload.of("task", tenant, priority, 1, Amounts.of(request, 0), f.name()));
        if (d.admitted() == 1) return PASS;
        String why = d.reasons().isEmpty() ? "quota of tenant " + tenant + " in flavor " + f.name() + " is full" : d.reasons().get(0);
        return d.waitingCanHelp() ? Veto.transientVeto(FILTER, why) : Veto.fixed(FILTER, why);
    }

    private Veto noFlavor(String tenant, String pool) {
        List<String> names = flavorsOf.getOrDefault(tenant, List.of()).stream().map(Flavor::name).toList();
        return Veto.fixed(FILTER, "tenant " + tenant + " has no quota for pool " + pool + " (its flavors: " + names + ")");
    }
}
