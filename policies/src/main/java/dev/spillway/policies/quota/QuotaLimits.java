package dev.spillway.policies.quota;

/**
 * A tenant's quota for one resource in one flavor, with Kueue's meaning (ClusterQueue
 * {@code resourceGroups[].flavors[].resources[]}):
 *
 * <ul>
 *   <li>{@code nominal}: what the tenant is guaranteed: it may always use this much, taking back
 *       (by preemption, if its reclaim policy allows) what others borrowed of it.</li>
 *   <li>{@code borrowingLimit}: how much above {@code nominal} the tenant may use, taken from the
 *       unused quota its cohort lends; {@code null} means no limit other than what the cohort
 *       has unused. A tenant outside any cohort cannot borrow and must leave it {@code null}.</li>
 *   <li>{@code lendingLimit}: how much of its unused nominal the tenant lends to its cohort;
 *       {@code null} means all of it. The rest, {@code nominal - lendingLimit}, is its
 *       <em>guaranteed</em> part: never lent, so available to it at once without preemption.</li>
 * </ul>
 *
 * Quantities are in the resource's unit ({@link QuotaResource}).
 */
public record QuotaLimits(long nominal, Long borrowingLimit, Long lendingLimit) {

    /** What a tenant has in a resource its flavor does not list: nothing, and no borrowing. */
    public static final QuotaLimits NONE = new QuotaLimits(0, 0L, null);

    public QuotaLimits {
        if (nominal < 0) throw new IllegalArgumentException("nominal quota " + nominal + " is negative");
        if (borrowingLimit != null && borrowingLimit < 0) throw new IllegalArgumentException("borrowingLimit " + borrowingLimit + " is negative");
        if (lendingLimit != null && lendingLimit < 0) throw new IllegalArgumentException("lendingLimit " + lendingLimit + " is negative");
        if (lendingLimit != null && lendingLimit > nominal) {
            throw new IllegalArgumentException("lendingLimit " + lendingLimit + " exceeds the nominal quota " + nominal);
        }
    }

    public static QuotaLimits nominal(long nominal) {
        return new QuotaLimits(nominal, null, null);
    }

    /** The part of the nominal quota never lent to the cohort. */
    public long guaranteed() {
        return lendingLimit == null ? 0 : nominal - lendingLimit;
    }

    /** The part of the nominal quota the cohort may borrow while the tenant does not use it. */
    public long lendable() {
        return nominal - guaranteed();
    }
}
