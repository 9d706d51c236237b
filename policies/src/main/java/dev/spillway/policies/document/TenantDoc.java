package dev.spillway.policies.document;

import java.util.List;
import java.util.Set;

/**
 * {@code kind: Tenant}: who submits work, what capacity it is promised and how it shares.
 *
 * @param cohort              tenants in one cohort lend and borrow unused quota; null when alone
 * @param weight              fair-share weight (greater than 0; default 1)
 * @param reclaimWithinCohort whether, and from whom, the tenant may take back lent quota by preemption
 * @param jurisdictions       residency: the tenant's work runs only in these legal areas; empty means anywhere
 * @param quotas              per flavor (a pool or group of pools), per resource
 */
public record TenantDoc(String name, Location at, String cohort, double weight, Reclaim reclaimWithinCohort,
                        Set<String> jurisdictions, List<FlavorQuota> quotas) implements Document {

    public enum Reclaim {
        /** Never preempt borrowers. */
        NEVER("Never"),
        /** Preempt borrowers' lower-priority work only. */
        LOWER_PRIORITY("LowerPriority"),
        /** Preempt any borrower's work. */
        ANY("Any");

        private final String spelling;

        Reclaim(String spelling) {
            this.spelling = spelling;
        }

        public String spelling() {
            return spelling;
        }
    }

    public TenantDoc {
        jurisdictions = Set.copyOf(jurisdictions);
        quotas = List.copyOf(quotas);
    }

    @Override
    public String kind() {
        return "Tenant";
    }
}
