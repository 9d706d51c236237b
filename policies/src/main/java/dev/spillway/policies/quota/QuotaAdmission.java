package dev.spillway.policies.quota;

import java.util.ArrayList;
import java.util.List;

/**
 * Quota admission: whether a workload's tasks may reserve quota now, in which flavor, and how much
 * of it is borrowed. Pure: the broker applies the decision ({@link AdmissionDecision#applyTo})
 * to its working state and records the reservations with the assignments.
 *
 * <p><b>Flavors in order.</b> As Kueue with its default flavor fungibility ({@code whenCanBorrow:
 * Borrow}), the workload's flavors are tried in its order and a flavor where the tasks fit, by
 * borrowing if need be, is taken: a tenant prefers its racks, borrowed or not, to the cloud.
 *
 * <p><b>Partial admission.</b> Kueue admits a workload whole. Spillway's tasks are independent, so
 * unless the workload is {@linkplain Workload#allOrNothing() all-or-nothing} each flavor in turn
 * takes as many of the remaining tasks as its quota holds, and the rest wait: 100 tasks with room
 * for 30 in {@code onprem} and 50 in {@code cloud-spot} admit 30 + 50 and leave 20 waiting, with
 * a reason for each flavor. An all-or-nothing workload is admitted whole in the first flavor that
 * takes every task, or not at all.
 *
 * <p><b>Reasons.</b> A waiting task's reason names the tenant, resource, flavor and numbers, e.g.
 * {@code tenant research: cpu in flavor onprem: 64 in use + 16 asked > nominal 32 + 48 borrowable}
 * (what the tenant holds after this decision's grants, what the waiting tasks ask, and what it
 * could hold now); when lenders' own work has taken back part of the tenant's nominal quota, the
 * reason says how much of it is lent out. Whether waiting can help is part of the decision.
 */
public final class QuotaAdmission {

    private QuotaAdmission() {
    }

    public static AdmissionDecision decide(QuotaState state, Workload w) {
        int t = state.tenantIndex(w.tenant());
        if (t < 0) {
            return new AdmissionDecision(w.id(), w.tenant(), List.of(), w.tasks(),
                    List.of("tenant " + w.tenant() + " has no quota (no Tenant document names it)"), false);
        }
        List<AdmissionDecision.Grant> grants = new ArrayList<>();
        List<String> reasons = new ArrayList<>();
        int remaining = w.tasks();
        boolean canHelp = false;
        List<long[]> short_ = new ArrayList<>(); // flavor, tasks granted there, index of its reason
        for (Workload.FlavorRequest option : w.options()) {
            if (remaining == 0) break;
            int f = state.flavorIndex(option.flavor());
            if (f < 0 || !state.lists(t, f)) {
                reasons.add("tenant " + w.tenant() + " has no quota in flavor " + option.flavor());
                continue;
            }
            Amounts perTask = option.perTask();
            long fit = maxTasks(state, t, f, perTask, remaining);
            if (w.allOrNothing() && fit < remaining) fit = 0;
            if (fit > 0) {
                Amounts reserved = perTask.times(fit);
                grants.add(new AdmissionDecision.Grant(option.flavor(), (int) fit, reserved, borrowed(state, t, f, reserved)));
                remaining -= (int) fit;
            }
            if (remaining > 0) short_.add(new long[] {f, fit, reasons.size()});
            if (remaining > 0) reasons.add(null); // filled in below, once it is known how many tasks wait
        }
        if (remaining == 0) return new AdmissionDecision(w.id(), w.tenant(), grants, 0, List.of(), false);
        // Each flavor found short is told about the tasks that finally wait (not those still left when it was tried).
        for (long[] sh : short_) {
            int f = (int) sh[0];
            Amounts perTask = perTask(w, state.flavorName(f));
            String never = neverFits(state, t, f, perTask, w.allOrNothing() ? w.tasks() : 1);
            if (never == null) canHelp = true;
            reasons.set((int) sh[2], never != null ? never : shortOf(state, t, f, perTask, sh[1], remaining, w.allOrNothing()));
        }
        return new AdmissionDecision(w.id(), w.tenant(), grants, remaining, reasons, canHelp);
    }

    private static Amounts perTask(Workload w, String flavor) {
        for (Workload.FlavorRequest o : w.options()) if (o.flavor().equals(flavor)) return o.perTask();
        throw new IllegalStateException(flavor);
    }

    /** How many tasks of {@code perTask} fit the tenant's quota in the flavor now, at most {@code cap}. */
    static long maxTasks(QuotaState s, int t, int f, Amounts perTask, long cap) {
        long fit = cap;
        for (int r = 0; r < QuotaState.R && fit > 0; r++) {
            long a = perTask.get(r);
            if (a == 0) continue;
            long avail = s.available(t, f, r);
            fit = Math.min(fit, avail <= 0 ? 0 : avail / a);
        }
        return fit;
    }

    private static Amounts borrowed(QuotaState s, int t, int f, Amounts reserved) {
        long[] b = new long[QuotaState.R];
        for (int r = 0; r < QuotaState.R; r++) {
            long u = s.usage(t, f, r), n = s.nominal(t, f, r);
            b[r] = Math.max(0, u + reserved.get(r) - n) - Math.max(0, u - n);
        }
        return new Amounts(b[0], b[1], b[2], b[3]);
    }

    /** Why {@code unit} tasks can never fit in the flavor, even with nothing else in use, or null if they could. */
    private static String neverFits(QuotaState s, int t, int f, Amounts perTask, int unit) {
        for (int r = 0; r < QuotaState.R; r++) {
            long a = perTask.get(r);
            if (a == 0) continue;
            long potential = s.potential(t, f, r);
            if (a > potential / unit) {
                QuotaResource res = QuotaResource.at(r);
                long n = s.nominal(t, f, r), bl = s.borrowingLimit(t, f, r);
                String ceiling = s.cohortOf(t) < 0 ? "nominal " + res.format(n) + " (in no cohort)"
                        : bl >= 0 ? "nominal " + res.format(n) + " + borrowingLimit " + res.format(bl)
                        : "nominal " + res.format(n) + " + all its cohort lends";
                String asked = unit == 1 ? res.format(a) + " asked per task" : res.format(Math.multiplyExact(a, (long) unit)) + " asked for " + unit + " tasks together";
                return "tenant " + s.tenantName(t) + ": " + res.key + " in flavor " + s.flavorName(f) + ": " + asked
                        + " > at most " + res.format(potential) + " ever (" + ceiling + ")";
            }
        }
        return null;
    }

    private static String shortOf(QuotaState s, int t, int f, Amounts perTask, long admittedHere, int remaining, boolean allOrNothing) {
        // The tightest resource: the one that admits the fewest further tasks (first in order on ties).
        int tight = -1;
        long tightFit = Long.MAX_VALUE;
        for (int r = 0; r < QuotaState.R; r++) {
            long a = perTask.get(r);
            if (a == 0) continue;
            long avail = s.available(t, f, r) - admittedHere * a;
            long fit = avail <= 0 ? 0 : avail / a;
            if (fit < tightFit) {
                tightFit = fit;
                tight = r;
            }
        }
        QuotaResource res = QuotaResource.at(tight);
        long a = perTask.get(tight);
        long inUse = s.usage(t, f, tight) + admittedHere * a;
        long asked = a * remaining;
        long n = s.nominal(t, f, tight);
        long holdable = s.usage(t, f, tight) + s.available(t, f, tight); // what it could hold now
        String head = "tenant " + s.tenantName(t) + ": " + res.key + " in flavor " + s.flavorName(f) + ": "
                + res.format(inUse) + " in use + " + res.format(asked) + " asked";
        String gang = allOrNothing ? " (all " + remaining + " tasks together)" : "";
        if (holdable >= n) {
            return head + gang + " > nominal " + res.format(n) + " + " + res.format(holdable - n) + " borrowable";
        }
        return head + gang + " > nominal " + res.format(n) + ", of which " + res.format(n - Math.max(holdable, 0))
                + " is lent out in cohort " + s.tenant(s.tenantName(t)).cohort();
    }
}
