package dev.spillway.policies.quota;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The tenants' quotas and what they hold now (reserved per tenant, flavor and resource), with the
 * cohort sums that borrowing needs precomputed: asking what a tenant may still use costs a few
 * array reads. Immutable: {@link #reserve} and {@link #release} return a new state (a copy of
 * the usage arrays), so a scheduling cycle can admit workload after workload from one snapshot.
 *
 * <h2>The arithmetic (Kueue's flat cohort)</h2>
 * For a tenant {@code t} in a cohort, per flavor {@code f} and resource {@code r}, with nominal
 * {@code n}, usage {@code u} and guaranteed part {@code g = n - lendingLimit} (0 without one):
 * <ul>
 *   <li>the cohort holds what its members lend: {@code lendable(f,r) = Σ (n_m - g_m)}, and counts
 *       as borrowed from it whatever a member uses beyond its guaranteed part:
 *       {@code borrowed(f,r) = Σ max(0, u_m - g_m)};</li>
 *   <li>{@code available(t) = max(0, g - u) + min(lendable - borrowed, (n - g) - max(0, u - g) + borrowingLimit)},
 *       the second term of the min only with a borrowing limit. So a tenant never holds more than
 *       {@code n + borrowingLimit}, the cohort never lends more than its members' lendable parts
 *       ({@code Σ u_m <= Σ n_m}), and a lender's guaranteed part is never lent;</li>
 *   <li>outside a cohort, {@code available(t) = n - u}.</li>
 * </ul>
 * This is Kueue's {@code available()} for a ClusterQueue whose parent is a cohort without quota of
 * its own (sigs.k8s.io/kueue {@code pkg/cache/resource_node.go}; concepts "Cluster Queue",
 * "Cohort"); hierarchical cohorts and cohort-level quota are not modelled.
 */
public final class QuotaState {

    static final int R = QuotaResource.values().length;
    /** Resource indexes in the order of their names (cpu, gpus, memory, spendUsdPerHour): ties in a share keep the first. */
    private static final int[] BY_NAME = java.util.Arrays.stream(QuotaResource.values())
            .sorted(java.util.Comparator.comparing(q -> q.key)).mapToInt(Enum::ordinal).toArray();
    private static final long UNLIMITED = -1;

    // From the specs (shared between copies).
    private final List<TenantQuota> tenants;
    private final Map<String, Integer> tenantIndex;
    private final List<String> flavors;
    private final Map<String, Integer> flavorIndex;
    private final List<String> cohorts;
    private final int[] cohortOf;          // per tenant, -1 outside any cohort
    private final boolean[] lists;         // per (t,f): the tenant lists the flavor
    private final long[] nominal;          // per (t,f,r)
    private final long[] borrowingLimit;   // per (t,f,r), UNLIMITED when absent
    private final long[] guaranteed;       // per (t,f,r)
    private final long[] cohortLendable;   // per (c,f,r)
    private final long[] cohortLendableByResource; // per (c,r), over all flavors: fair sharing's denominator
    // Usage (copied on change).
    private final long[] usage;            // per (t,f,r)
    private final long[] cohortBorrowed;   // per (c,f,r)

    private QuotaState(QuotaState base, long[] usage, long[] cohortBorrowed) {
        this.tenants = base.tenants;
        this.tenantIndex = base.tenantIndex;
        this.flavors = base.flavors;
        this.flavorIndex = base.flavorIndex;
        this.cohorts = base.cohorts;
        this.cohortOf = base.cohortOf;
        this.lists = base.lists;
        this.nominal = base.nominal;
        this.borrowingLimit = base.borrowingLimit;
        this.guaranteed = base.guaranteed;
        this.cohortLendable = base.cohortLendable;
        this.cohortLendableByResource = base.cohortLendableByResource;
        this.usage = usage;
        this.cohortBorrowed = cohortBorrowed;
    }

    private QuotaState(List<TenantQuota> specs, Map<String, Map<String, Amounts>> used) {
        List<TenantQuota> sorted = new ArrayList<>(specs);
        sorted.sort((a, b) -> a.tenant().compareTo(b.tenant()));
        tenants = List.copyOf(sorted);
        tenantIndex = new HashMap<>();
        TreeSet<String> flavorNames = new TreeSet<>();
        TreeSet<String> cohortNames = new TreeSet<>();
        for (TenantQuota t : tenants) {
            if (tenantIndex.put(t.tenant(), tenantIndex.size()) != null) {
                throw new IllegalArgumentException("tenant " + t.tenant() + " has two quotas");
            }
            flavorNames.addAll(t.flavors().keySet());
            if (t.cohort() != null) cohortNames.add(t.cohort());
        }
        used.forEach((tenant, byFlavor) -> {
            if (tenantIndex.containsKey(tenant)) flavorNames.addAll(byFlavor.keySet());
        });
        flavors = List.copyOf(flavorNames);
        flavorIndex = index(flavors);
        cohorts = List.copyOf(cohortNames);
        Map<String, Integer> cohortIndex = index(cohorts);
        int T = tenants.size(), F = flavors.size(), C = cohorts.size();
        cohortOf = new int[T];
        lists = new boolean[T * F];
        nominal = new long[T * F * R];
        borrowingLimit = new long[T * F * R];
        guaranteed = new long[T * F * R];
        usage = new long[T * F * R];
        cohortLendable = new long[C * F * R];
        cohortBorrowed = new long[C * F * R];
        cohortLendableByResource = new long[C * R];
        for (int t = 0; t < T; t++) {
            TenantQuota spec = tenants.get(t);
            cohortOf[t] = spec.cohort() == null ? -1 : cohortIndex.get(spec.cohort());
            Map<String, Amounts> tenantUsage = used.getOrDefault(spec.tenant(), Map.of());
            for (int f = 0; f < F; f++) {
                String flavor = flavors.get(f);
                lists[t * F + f] = spec.flavors().containsKey(flavor);
                Amounts u = tenantUsage.getOrDefault(flavor, Amounts.ZERO);
                for (int r = 0; r < R; r++) {
                    int i = (t * F + f) * R + r;
                    QuotaLimits l = spec.limits(flavor, QuotaResource.at(r));
                    nominal[i] = l.nominal();
                    borrowingLimit[i] = l.borrowingLimit() == null ? UNLIMITED : l.borrowingLimit();
                    guaranteed[i] = spec.cohort() == null ? l.nominal() : l.guaranteed();
                    usage[i] = u.get(r);
                    int c = cohortOf[t];
                    if (c >= 0) {
                        int ci = (c * F + f) * R + r;
                        cohortLendable[ci] = Math.addExact(cohortLendable[ci], nominal[i] - guaranteed[i]);
                        cohortBorrowed[ci] = Math.addExact(cohortBorrowed[ci], Math.max(0, usage[i] - guaranteed[i]));
                        cohortLendableByResource[c * R + r] = Math.addExact(cohortLendableByResource[c * R + r], nominal[i] - guaranteed[i]);
                    }
                }
            }
        }
    }

    private static Map<String, Integer> index(List<String> names) {
        Map<String, Integer> m = new HashMap<>();
        for (String n : names) m.put(n, m.size());
        return m;
    }

    /**
     * @param tenants every tenant's quota
     * @param usage   what each tenant holds now (admitted, not yet finished work), per flavor; a
     *                tenant without a quota has none to count against and is ignored
     */
    public static QuotaState of(List<TenantQuota> tenants, Map<String, Map<String, Amounts>> usage) {
        return new QuotaState(tenants, usage);
    }

    public List<TenantQuota> tenants() {
        return tenants;
    }

    public boolean knows(String tenant) {
        return tenantIndex.containsKey(tenant);
    }

    public TenantQuota tenant(String tenant) {
        Integer t = tenantIndex.get(tenant);
        if (t == null) throw new IllegalArgumentException("no quota for tenant " + tenant);
        return tenants.get(t);
    }

    /** Whether the tenant may use the flavor at all (it lists it). */
    public boolean lists(String tenant, String flavor) {
        Integer t = tenantIndex.get(tenant), f = flavorIndex.get(flavor);
        return t != null && f != null && lists[t * flavors.size() + f];
    }

    /** The tenant's usage in a flavor (zero where it holds nothing). */
    public Amounts usage(String tenant, String flavor) {
        Integer t = tenantIndex.get(tenant), f = flavorIndex.get(flavor);
        if (t == null || f == null) return Amounts.ZERO;
        int i = (t * flavors.size() + f) * R;
        return new Amounts(usage[i], usage[i + 1], usage[i + 2], usage[i + 3]);
    }

    /** Every tenant's usage, per flavor (zero entries left out): the shape {@link #of} takes. */
    public Map<String, Map<String, Amounts>> usage() {
        Map<String, Map<String, Amounts>> out = new LinkedHashMap<>();
        for (TenantQuota t : tenants) {
            for (String f : flavors) {
                Amounts a = usage(t.tenant(), f);
                if (!a.isZero()) out.computeIfAbsent(t.tenant(), k -> new LinkedHashMap<>()).put(f, a);
            }
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * How much more of a resource the tenant may reserve in a flavor now (negative if it holds
     * more than it may, after a quota was lowered). See the class comment for the arithmetic.
     */
    public long available(String tenant, String flavor, QuotaResource resource) {
        return available(tenantIndex.get(tenant), flavorIndex.get(flavor), resource.ordinal());
    }

    long available(int t, int f, int r) {
        int F = flavors.size();
        int i = (t * F + f) * R + r;
        long u = usage[i], n = nominal[i], g = guaranteed[i];
        int c = cohortOf[t];
        if (c < 0) return n - u;
        int ci = (c * F + f) * R + r;
        long fromCohort = cohortLendable[ci] - cohortBorrowed[ci];
        if (borrowingLimit[i] != UNLIMITED) {
            fromCohort = Math.min(fromCohort, (n - g) - Math.max(0, u - g) + borrowingLimit[i]);
        }
        return Math.max(0, g - u) + fromCohort;
    }

    /**
     * The most of a resource the tenant could ever hold in a flavor, with nothing else in use:
     * what decides whether waiting can help (Kueue's {@code potentialAvailable}).
     */
    long potential(int t, int f, int r) {
        int F = flavors.size();
        int i = (t * F + f) * R + r;
        int c = cohortOf[t];
        if (c < 0) return nominal[i];
        long p = guaranteed[i] + cohortLendable[(c * F + f) * R + r];
        if (borrowingLimit[i] != UNLIMITED) p = Math.min(p, nominal[i] + borrowingLimit[i]);
        return p;
    }

    /** A new state in which the tenant holds {@code amounts} more in the flavor. */
    public QuotaState reserve(String tenant, String flavor, Amounts amounts) {
        return change(tenant, flavor, amounts, +1);
    }

    /** A new state in which the tenant holds {@code amounts} less in the flavor (finished or preempted work). */
    public QuotaState release(String tenant, String flavor, Amounts amounts) {
        return change(tenant, flavor, amounts, -1);
    }

    private QuotaState change(String tenant, String flavor, Amounts amounts, int sign) {
        Integer t = tenantIndex.get(tenant);
        if (t == null) throw new IllegalArgumentException("no quota for tenant " + tenant);
        Integer f = flavorIndex.get(flavor);
        if (f == null) throw new IllegalArgumentException("no tenant has quota in flavor " + flavor);
        long[] u = usage.clone();
        long[] cb = cohortBorrowed.clone();
        apply(u, cb, t, f, amounts, sign);
        return new QuotaState(this, u, cb);
    }

    private void apply(long[] u, long[] cb, int t, int f, Amounts amounts, int sign) {
        int F = flavors.size();
        int c = cohortOf[t];
        for (int r = 0; r < R; r++) {
            long delta = amounts.get(r);
            if (delta == 0) continue;
            int i = (t * F + f) * R + r;
            long before = u[i];
            long after = sign > 0 ? Math.addExact(before, delta) : before - delta;
            if (after < 0) {
                throw new IllegalArgumentException("tenant " + tenants.get(t).tenant() + " releases " + QuotaResource.at(r).format(delta)
                        + " " + QuotaResource.at(r).key + " in flavor " + flavors.get(f) + " but holds " + QuotaResource.at(r).format(before));
            }
            u[i] = after;
            if (c >= 0) {
                long g = guaranteed[i];
                cb[(c * F + f) * R + r] += Math.max(0, after - g) - Math.max(0, before - g);
            }
        }
    }

    /**
     * The tenant's weighted dominant resource share, as Kueue's fair sharing defines it
     * ({@code pkg/cache/fair_sharing.go}, concept "Preemption" / "Fair Sharing"): per resource,
     * what the tenant uses above its nominal quota, summed over flavors, divided by what the
     * cohort's members lend in that resource over all flavors; the largest of these ratios,
     * divided by the weight. Zero for a tenant within its nominal quota everywhere or outside
     * any cohort; infinite for a cohort member of weight 0.
     *
     * @param flavor    a flavor to add {@code extra} in before computing (the share the tenant
     *                  would have with a workload admitted), or {@code null}
     */
    public Share share(String tenant, String flavor, Amounts extra) {
        Integer t = tenantIndex.get(tenant);
        if (t == null) throw new IllegalArgumentException("no quota for tenant " + tenant);
        return share(t, flavor == null ? -1 : flavorIndex.getOrDefault(flavor, -1), extra);
    }

    public Share share(String tenant) {
        return share(tenant, null, Amounts.ZERO);
    }

    Share share(int t, int extraFlavor, Amounts extra) {
        int c = cohortOf[t];
        if (c < 0) return Share.ZERO;
        long weight = tenants.get(t).weightMilli();
        if (weight == 0) return Share.INFINITE;
        int F = flavors.size();
        Share best = Share.ZERO;
        for (int r : BY_NAME) {
            long lendable = cohortLendableByResource[c * R + r];
            if (lendable <= 0) continue;
            long borrowed = 0;
            for (int f = 0; f < F; f++) {
                int i = (t * F + f) * R + r;
                long u = usage[i] + (f == extraFlavor ? extra.get(r) : 0);
                if (u > nominal[i]) borrowed += u - nominal[i];
            }
            if (borrowed == 0) continue;
            Share s = Share.of(borrowed, lendable, weight, QuotaResource.at(r));
            if (s.compareTo(best) > 0) best = s;
        }
        return best;
    }

    public int tenantIndex(String tenant) {
        Integer t = tenantIndex.get(tenant);
        return t == null ? -1 : t;
    }

    int flavorIndex(String flavor) {
        Integer f = flavorIndex.get(flavor);
        return f == null ? -1 : f;
    }

    boolean lists(int t, int f) {
        return lists[t * flavors.size() + f];
    }

    int cohortOf(int t) {
        return cohortOf[t];
    }

    long nominal(int t, int f, int r) {
        return nominal[(t * flavors.size() + f) * R + r];
    }

    long usage(int t, int f, int r) {
        return usage[(t * flavors.size() + f) * R + r];
    }

    long borrowingLimit(int t, int f, int r) {
        return borrowingLimit[(t * flavors.size() + f) * R + r];
    }

    String flavorName(int f) {
        return flavors.get(f);
    }

    String tenantName(int t) {
        return tenants.get(t).tenant();
    }

    int tenantCount() {
        return tenants.size();
    }
}
