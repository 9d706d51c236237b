package dev.spillway.policies.quota;

import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One tenant's quota (a {@code kind: Tenant} document; Kueue's ClusterQueue): its limits per
 * flavor and resource, the cohort it lends to and borrows from, its fair-share weight and whether
 * it may preempt borrowers to get its nominal quota back.
 *
 * <p>A tenant may use only the flavors it lists. In a listed flavor, a resource it does not list
 * is {@link QuotaLimits#NONE}: work that asks for any of it waits for good (Kueue likewise admits
 * nothing in a resource a ClusterQueue does not cover). Write {@code nominal: 0} to let a tenant
 * use a resource only by borrowing it.
 *
 * @param cohort      the cohort's name, or {@code null}: the tenant then neither lends nor borrows
 * @param weightMilli the fair-share weight in thousandths (1000 = weight 1, the default); a tenant
 *                    of weight 0 has an infinite share: its work goes last and is reclaimed first
 * @param flavors     limits per flavor, in no meaningful order
 */
public record TenantQuota(String tenant, String cohort, long weightMilli, ReclaimPolicy reclaim,
                          Map<String, Map<QuotaResource, QuotaLimits>> flavors) {

    public TenantQuota {
        if (tenant == null || tenant.isBlank()) throw new IllegalArgumentException("a tenant quota needs the tenant's name");
        if (cohort != null && cohort.isBlank()) cohort = null;
        if (weightMilli < 0) throw new IllegalArgumentException("tenant " + tenant + ": the fair-share weight is negative");
        if (reclaim == null) reclaim = ReclaimPolicy.NEVER;
        Map<String, Map<QuotaResource, QuotaLimits>> copy = new LinkedHashMap<>();
        for (Map.Entry<String, Map<QuotaResource, QuotaLimits>> f : flavors.entrySet()) {
            Map<QuotaResource, QuotaLimits> limits = new EnumMap<>(QuotaResource.class);
            limits.putAll(f.getValue());
            for (Map.Entry<QuotaResource, QuotaLimits> l : limits.entrySet()) {
                if (cohort == null && (l.getValue().borrowingLimit() != null || l.getValue().lendingLimit() != null)) {
                    throw new IllegalArgumentException("tenant " + tenant + ": " + l.getKey().key + " in flavor " + f.getKey()
                            + " has a borrowingLimit or lendingLimit but the tenant is in no cohort");
                }
            }
            copy.put(f.getKey(), Collections.unmodifiableMap(limits));
        }
        flavors = Collections.unmodifiableMap(copy);
    }

    /** A tenant of weight 1 that does not preempt. */
    public static TenantQuota of(String tenant, String cohort, Map<String, Map<QuotaResource, QuotaLimits>> flavors) {
        return new TenantQuota(tenant, cohort, 1000, ReclaimPolicy.NEVER, flavors);
    }

    public TenantQuota withWeightMilli(long weightMilli) {
        return new TenantQuota(tenant, cohort, weightMilli, reclaim, flavors);
    }

    public TenantQuota withReclaim(ReclaimPolicy reclaim) {
        return new TenantQuota(tenant, cohort, weightMilli, reclaim, flavors);
    }

    /** The limits for a resource in a flavor: {@link QuotaLimits#NONE} where none are written. */
    public QuotaLimits limits(String flavor, QuotaResource resource) {
        Map<QuotaResource, QuotaLimits> f = flavors.get(flavor);
        if (f == null) return QuotaLimits.NONE;
        return f.getOrDefault(resource, QuotaLimits.NONE);
    }
}
