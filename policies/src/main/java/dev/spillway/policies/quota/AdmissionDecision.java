package dev.spillway.policies.quota;

import java.util.List;

/**
 * What quota admission decided for a workload: how many of its tasks may start in which flavor
 * (quota reserved for them), and why the others wait.
 *
 * @param grants         tasks admitted per flavor, in the workload's flavor order; empty when
 *                       every task waits
 * @param waiting        tasks left waiting
 * @param reasons        one per flavor tried and found short, naming the quota
 *                       ({@code "tenant research: cpu in flavor onprem: 64 in use + 16 asked > nominal 32 + 48 borrowable"});
 *                       empty when nothing waits
 * @param waitingCanHelp whether some waiting task could be admitted later, once others release
 *                       quota (false: no flavor could ever take one, e.g. it asks for more than
 *                       nominal + borrowingLimit, or the tenant has no quota in it)
 */
public record AdmissionDecision(String workloadId, String tenant, List<Grant> grants, int waiting,
                                List<String> reasons, boolean waitingCanHelp) {

    /**
     * Tasks admitted in one flavor.
     *
     * @param reserved what they reserve in all
     * @param borrowed the part of {@code reserved} above the tenant's nominal quota (borrowed from
     *                 the cohort, and reclaimable by the lenders)
     */
    public record Grant(String flavor, int tasks, Amounts reserved, Amounts borrowed) {
    }

    public AdmissionDecision {
        grants = List.copyOf(grants);
        reasons = List.copyOf(reasons);
    }

    public int admitted() {
        int n = 0;
        for (Grant g : grants) n += g.tasks();
        return n;
    }

    public boolean admitsAll() {
        return waiting == 0;
    }

    /** The state with this decision's reservations made. */
    public QuotaState applyTo(QuotaState state) {
        QuotaState s = state;
        for (Grant g : grants) s = s.reserve(tenant, g.flavor(), g.reserved());
        return s;
    }
}
