package dev.spillway.policies.quota;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Which borrowed work to preempt so that a tenant gets its nominal quota back (Kueue's
 * {@code reclaimWithinCohort}; concept "Preemption", classic algorithm, with the victims' tenants
 * visited as its fair-sharing algorithm does: the highest share first).
 *
 * <p>Rules, in the order they apply:
 * <ol>
 *   <li>The waiting work must fit within its tenant's <em>nominal</em> quota once admitted
 *       (usage + request ≤ nominal in every resource it asks for, in that flavor): preemption
 *       reclaims what was lent, it never makes room for more borrowing. With
 *       {@link ReclaimPolicy#NEVER}, or outside a cohort, nothing is preempted.</li>
 *   <li>Candidates are admitted workloads of <em>other</em> tenants of the cohort in the same
 *       flavor, whose tenant uses more than its nominal quota in a resource both the candidate and
 *       the waiting work use, and whose priority the policy allows ({@code LowerPriority}: strictly
 *       lower; {@code Any}: all). A tenant within its nominal quota is never a victim.</li>
 *   <li>Victims are taken one at a time until the waiting work fits: from the candidate tenant with
 *       the highest dominant resource share now (ties by name), its lowest priority first, then its
 *       most recently admitted, then id. Eligibility is re-checked after each pick, so a tenant
 *       brought back to its nominal quota loses nothing more.</li>
 *   <li>The set is then made minimal as Kueue does: in reverse order of picking, a victim is spared
 *       if the waiting work still fits without preempting it.</li>
 * </ol>
 * Preempted work should be requeued without using one of its retries: it did not fail.
 * Deterministic: the result depends on the inputs' content, not their order.
 */
public final class Reclaim {

    private Reclaim() {
    }

    /**
     * Admitted work holding quota.
     *
     * @param admittedSeq when it was admitted, as a sequence (greater: more recent)
     * @param amounts     what it reserves in {@code flavor}
     */
    public record Admitted(String id, String tenant, String flavor, int priority, long admittedSeq, Amounts amounts) {
    }

    /** A victim and why it is preempted. */
    public record Victim(Admitted workload, String reason) {
    }

    /**
     * @param victims what to preempt, in the order picked; empty when nothing is needed or possible
     * @param fits    whether the waiting work fits once the victims are gone
     * @param reason  why nothing is preempted (null when victims are named or nothing is needed)
     */
    public record Plan(List<Victim> victims, boolean fits, String reason) {
        public Plan {
            victims = List.copyOf(victims);
        }
    }

    private static final Comparator<Admitted> WITHIN_TENANT = Comparator.comparingInt(Admitted::priority)
            .thenComparing(Comparator.comparingLong(Admitted::admittedSeq).reversed())
            .thenComparing(Admitted::id);

    /**
     * @param state    quota and usage now ({@code admitted} is what makes up the usage)
     * @param tenant   the tenant that waits
     * @param priority the waiting work's priority
     * @param flavor   the flavor it needs its quota back in
     * @param need     what it asks for there
     */
    public static Plan select(QuotaState state, List<Admitted> admitted, String tenant, int priority, String flavor, Amounts need) {
        int t = state.tenantIndex(tenant), f = state.flavorIndex(flavor);
        if (t < 0 || f < 0 || !state.lists(t, f)) return new Plan(List.of(), false, "tenant " + tenant + " has no quota in flavor " + flavor);
        if (fits(state, t, f, need)) return new Plan(List.of(), true, null);
        TenantQuota spec = state.tenant(tenant);
        if (spec.cohort() == null) return new Plan(List.of(), false, "tenant " + tenant + " is in no cohort: there is no lent quota to reclaim");
        if (spec.reclaim() == ReclaimPolicy.NEVER) {
            return new Plan(List.of(), false, "tenant " + tenant + " does not reclaim (reclaimWithinCohort: Never): it waits for borrowers to finish");
        }
        for (int r = 0; r < QuotaState.R; r++) {
            long a = need.get(r);
            if (a > 0 && state.usage(t, f, r) + a > state.nominal(t, f, r)) {
                QuotaResource res = QuotaResource.at(r);
                return new Plan(List.of(), false, "tenant " + tenant + ": " + res.key + " in flavor " + flavor + ": "
                        + res.format(state.usage(t, f, r)) + " in use + " + res.format(a) + " asked > nominal " + res.format(state.nominal(t, f, r))
                        + ": only nominal quota is reclaimed, never room to borrow");
            }
        }
        List<Admitted> candidates = new ArrayList<>();
        for (Admitted a : admitted) {
            if (a.tenant().equals(tenant) || !a.flavor().equals(flavor)) continue;
            int v = state.tenantIndex(a.tenant());
            if (v < 0 || state.cohortOf(v) != state.cohortOf(t)) continue;
            if (!spec.reclaim().allows(priority, a.priority())) continue;
            candidates.add(a);
        }
        candidates.sort(WITHIN_TENANT);

        QuotaState s = state;
        List<Admitted> picked = new ArrayList<>();
        List<String> why = new ArrayList<>();
        while (!fits(s, t, f, need)) {
            Admitted best = null;
            Share bestShare = null;
            for (Admitted a : candidates) {
                if (picked.contains(a)) continue;
                int v = s.tenantIndex(a.tenant());
                if (overNominalIn(s, v, f, need, a.amounts()) < 0) continue;
                Share share = s.share(v, -1, Amounts.ZERO);
                // candidates are sorted within a tenant, so the first eligible of a tenant is its pick
                if (best == null || share.compareTo(bestShare) > 0
                        || (share.compareTo(bestShare) == 0 && a.tenant().compareTo(best.tenant()) < 0)) {
                    best = a;
                    bestShare = share;
                }
            }
            if (best == null) {
                return new Plan(List.of(), false, "tenant " + tenant + ": not enough borrowed work in flavor " + flavor
                        + " that reclaimWithinCohort: " + spec.reclaim().key + " allows preempting (priority below " + priority
                        + (spec.reclaim() == ReclaimPolicy.ANY ? " or any" : "") + ")");
            }
            int v = s.tenantIndex(best.tenant());
            int r = overNominalIn(s, v, f, need, best.amounts());
            QuotaResource res = QuotaResource.at(r);
            why.add("reclaims quota lent to tenant " + best.tenant() + " for tenant " + tenant + ": " + best.tenant() + " uses "
                    + res.format(s.usage(v, f, r)) + " " + res.key + " in flavor " + flavor + " > nominal " + res.format(s.nominal(v, f, r))
                    + " (share " + bestShare + ")");
            picked.add(best);
            s = s.release(best.tenant(), flavor, best.amounts());
        }
        // Minimise: spare victims, last picked first, while the waiting work still fits.
        for (int i = picked.size() - 1; i >= 0; i--) {
            Admitted a = picked.get(i);
            QuotaState spared = s.reserve(a.tenant(), flavor, a.amounts());
            if (fits(spared, t, f, need)) {
                s = spared;
                picked.remove(i);
                why.remove(i);
            }
        }
        List<Victim> victims = new ArrayList<>();
        for (int i = 0; i < picked.size(); i++) victims.add(new Victim(picked.get(i), why.get(i)));
        return new Plan(victims, true, null);
    }

    static boolean fits(QuotaState s, int t, int f, Amounts need) {
        for (int r = 0; r < QuotaState.R; r++) {
            long a = need.get(r);
            if (a > 0 && s.available(t, f, r) < a) return false;
        }
        return true;
    }

    /** A resource both use in which the victim's tenant is above its nominal quota, or -1. */
    private static int overNominalIn(QuotaState s, int v, int f, Amounts need, Amounts victim) {
        for (int r = 0; r < QuotaState.R; r++) {
            if (need.get(r) > 0 && victim.get(r) > 0 && s.usage(v, f, r) > s.nominal(v, f, r)) return r;
        }
        return -1;
    }
}
