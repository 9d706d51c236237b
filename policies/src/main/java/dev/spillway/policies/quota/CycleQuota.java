package dev.spillway.policies.quota;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeSlot;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.scheduling.Veto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import java.util.function.ToIntFunction;

/**
 * One scheduling cycle's quota. A task of a tenant with a quota counts in the flavor of the pool
 * it runs in (the first of the tenant's flavors, in its document's order, that includes the pool).
 * Before planning, {@link #check} tells the scheduler's filter whether a tenant's task may go to a
 * node of a pool at all (a static veto when none of its flavors includes the pool, a transient one
 * naming the quota when it is full now); after planning, {@link #reserve} takes the plan's
 * placements in order and keeps only those that still fit once the earlier ones are reserved, so
 * a cycle never admits beyond quota however many tasks it places. Tenants no Tenant document
 * gives a quota are not limited. Not thread-safe: one cycle's working state.
 *
 * <p>A task counts its request and, on a cloud node, its share of the node's price as spend
 * ({@link Amounts#onNode}); so a tenant's {@code spendUsdPerHour} quota in a cloud flavor caps
 * what its running work costs there per hour, and {@link #burstAllowance} what bursting may buy
 * for it.
 */
public final class CycleQuota {

    /** The name of the quota filter's vetoes; under {@code policy} so that explanations name it. */
    public static final String FILTER = "policy/quota";

    private final Map<String, TenantQuota> tenants = new HashMap<>();
    /** Per tenant, its flavors that stand for some pool, in its document's order. */
    private final Map<String, List<Flavor>> flavorsOf;
    private final Map<CheckKey, Veto> checked = new HashMap<>();

    private record CheckKey(String tenant, String pool, boolean spot, int priority, Amounts need) {
    }

    /**
     * What a tenant's running tasks hold on nodes of one pool, spot or not (spend included, see
     * {@link Amounts#onNode}).
     */
    public record Held(String tenant, String pool, boolean spot, Amounts amounts) {
    }
    private final QuotaState start;
    private QuotaState state;
    /** A node's hourly price (0 on-prem); asked only when some tenant's quota limits spend. */
    private final ToDoubleFunction<NodeView> usdPerHour;
    private final boolean spendLimited;
    private final Map<NodeView, Double> prices = new IdentityHashMap<>();

    /**
     * @param tenants    the tenants' quotas
     * @param order      per tenant, its flavor names in its document's order
     * @param flavors    the flavors that stand for pools ({@link Flavors#resolve})
     * @param held       what tenants hold now; usage on capacity none of the tenant's flavors
     *                   includes is not counted
     * @param usdPerHour a node's hourly price: its instance's on a cloud node, 0 on-prem
     */
    public CycleQuota(List<TenantQuota> tenants, Map<String, List<String>> order, Map<String, Flavor> flavors,
                      List<Held> held, ToDoubleFunction<NodeView> usdPerHour) {
        this.usdPerHour = usdPerHour;
        this.spendLimited = tenants.stream().anyMatch(t -> t.flavors().values().stream().anyMatch(l -> l.containsKey(QuotaResource.SPEND)));
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
        for (Held h : held) {
            Flavor f = flavorOf(h.tenant(), h.pool(), h.spot());
            if (f != null) usage.computeIfAbsent(h.tenant(), k -> new HashMap<>()).merge(f.name(), h.amounts(), Amounts::plus);
        }
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
    public NodeFilter filter(Function<TaskShape, String> tenantOf, ToIntFunction<TaskShape> priorityOf) {
        return new NodeFilter() {
            @Override
            public String name() {
                return FILTER;
            }

            @Override
            public Veto check(TaskShape shape, NodeSlot slot) {
                String tenant = tenantOf.apply(shape);
                return tenant == null ? null : CycleQuota.this.check(tenant, priorityOf.applyAsInt(shape), slot.view(), shape.request());
            }
        };
    }

    /** What a task asking for {@code request} counts on {@code node}: the request, and its share of the node's price when spend is limited. */
    public Amounts need(NodeView node, Resources request) {
        if (!spendLimited) return Amounts.of(request, 0);
        Double price = prices.get(node);
        if (price == null) {
            price = usdPerHour.applyAsDouble(node);
            prices.put(node, price);
        }
        return Amounts.onNode(request, node.capacity(), price);
    }

    /** Whether a Tenant document gives this tenant a quota. */
    public boolean governs(String tenant) {
        return tenants.containsKey(tenant);
    }

    /** The flavor a task of {@code tenant} counts in on a node of {@code pool}, spot or not; null when none of its flavors includes it. */
    public Flavor flavorOf(String tenant, String pool, boolean spot) {
        List<Flavor> mine = flavorsOf.get(tenant);
        if (mine == null) return null;
        for (Flavor f : mine) if (f.includes(pool, spot)) return f;
        return null;
    }

    /** The flavor a task of {@code tenant} counts in on {@code node}; null when none of its flavors includes it. */
    public Flavor flavorOf(String tenant, NodeView node) {
        return flavorOf(tenant, node.pool(), spot(node));
    }

    /** Whether a node is spot (interruptible) capacity: its {@link TaskShape#SPOT_LABEL}. */
    public static boolean spot(NodeView node) {
        return "true".equals(node.labels().get(TaskShape.SPOT_LABEL));
    }

    /**
     * Whether a task of {@code tenant} asking for {@code request} may be placed on {@code node},
     * as the cycle started: null when it may, else a veto: static when none of the tenant's
     * flavors includes the node's pool or the task could never fit its quota there, transient
     * (naming tenant, resource, flavor and the numbers) when the quota is only full now.
     */
    public Veto check(String tenant, int priority, NodeView node, Resources request) {
        if (!governs(tenant)) return null;
        CheckKey key = new CheckKey(tenant, node.pool(), spot(node), priority, need(node, request));
        Veto v = checked.get(key);
        if (v == null) {
            v = decide(start, tenant, priority, node.pool(), key.spot(), key.need());
            checked.put(key, v);
        }
        return v == PASS ? null : v;
    }

    /**
     * What bursting may buy for the waiting work of quota tenants, from this cycle's state (its
     * placements reserved). Reads only immutable state: another thread may use it while later
     * cycles run.
     */
    public BurstAllowance burstAllowance() {
        return new BurstAllowance(state);
    }

    /**
     * For one waiting job at a time, in queue order: how many of its waiting tasks its tenant's
     * quota could still take on cloud capacity, and which offerings it refuses them. The tasks
     * allowed are counted, at the offering where a task spends least, before the next job is
     * asked, so that bursting does not buy for a tenant more than its quota lets it run (its
     * spend per hour above all).
     */
    public final class BurstAllowance {
        private QuotaState s;

        private BurstAllowance(QuotaState s) {
            this.s = s;
        }

        /**
         * @param tasks     how many tasks of the job wait
         * @param offerings what bursting may buy
         * @return null when the tenant has no quota (bursting is not limited by it)
         */
        public Allowed allow(String tenant, int priority, Resources request, int tasks, List<Offering> offerings) {
            if (!governs(tenant) || tasks < 1) return null;
            Map<String, String> refused = new HashMap<>();
            AdmissionDecision best = null;
            long bestSpend = Long.MAX_VALUE;
            for (Offering o : offerings) {
                Flavor f = flavorOf(tenant, o.pool(), o.spot());
                if (f == null) {
                    refused.put(o.id(), noFlavor(tenant, o.pool(), o.spot()).reason());
                    continue;
                }
                Amounts need = spendLimited ? Amounts.onNode(request, o.shape(), o.priceUsdPerHour()) : Amounts.of(request, 0);
                AdmissionDecision d = QuotaAdmission.decide(s, Workload.of("burst", tenant, priority, tasks, need, f.name()));
                if (d.admitted() == 0) {
                    refused.put(o.id(), d.reasons().isEmpty() ? "quota of tenant " + tenant + " in flavor " + f.name() + " is full" : d.reasons().get(0));
                } else if (need.spendMicroUsdPerHour() < bestSpend) {
                    best = d;
                    bestSpend = need.spendMicroUsdPerHour();
                }
            }
            if (best == null) return new Allowed(0, refused, refused);
            s = best.applyTo(s);
            Map<String, String> beyond = new HashMap<>();
            if (best.admitted() < tasks) {
                String why = "the quota of tenant " + tenant + " takes " + best.admitted() + " of its " + tasks + " waiting tasks on cloud capacity now"
                        + (best.reasons().isEmpty() ? "" : " (" + best.reasons().get(0) + ")");
                for (Offering o : offerings) beyond.put(o.id(), refused.getOrDefault(o.id(), why));
            }
            return new Allowed(best.admitted(), refused, beyond);
        }
    }

    /**
     * @param tasks   how many of the job's waiting tasks bursting may buy for (the first ones, in queue order)
     * @param refused for those, the offerings the quota refuses, with why
     * @param beyond  for the others, every offering, with why
     */
    public record Allowed(int tasks, Map<String, String> refused, Map<String, String> beyond) {
        public Allowed {
            refused = Map.copyOf(refused);
            beyond = Map.copyOf(beyond);
        }
    }

    /**
     * Reserves one placed task in the cycle's working state: null when it fits (and is now
     * counted), else why not; the caller then takes the placement back.
     */
    public String reserve(String tenant, int priority, NodeView node, Resources request) {
        if (!governs(tenant)) return null;
        Flavor f = flavorOf(tenant, node);
        if (f == null) return noFlavor(tenant, node.pool(), spot(node)).reason();
        AdmissionDecision d = QuotaAdmission.decide(state, Workload.of("task", tenant, priority, 1, need(node, request), f.name()));
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

    private Veto decide(QuotaState s, String tenant, int priority, String pool, boolean spot, Amounts need) {
        Flavor f = flavorOf(tenant, pool, spot);
        if (f == null) return noFlavor(tenant, pool, spot);
        AdmissionDecision d = QuotaAdmission.decide(s, Workload.of("task", tenant, priority, 1, need, f.name()));
        if (d.admitted() == 1) return PASS;
        String why = d.reasons().isEmpty() ? "quota of tenant " + tenant + " in flavor " + f.name() + " is full" : d.reasons().get(0);
        return d.waitingCanHelp() ? Veto.transientVeto(FILTER, why) : Veto.fixed(FILTER, why);
    }

    private Veto noFlavor(String tenant, String pool, boolean spot) {
        List<Flavor> mine = flavorsOf.getOrDefault(tenant, List.of());
        List<String> names = mine.stream().map(Flavor::name).toList();
        // Some flavor holds the pool's other capacity: say which kind it lacks.
        boolean otherKind = mine.stream().anyMatch(f -> f.includes(pool, !spot));
        String what = otherKind ? (spot ? "spot" : "on-demand") + " capacity in pool " + pool : "pool " + pool;
        return Veto.fixed(FILTER, "tenant " + tenant + " has no quota for " + what + " (its flavors: " + names + ")");
    }
}
