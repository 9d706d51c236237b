package dev.spillway.policies.quota;

/**
 * Whether a tenant that needs its nominal quota back may preempt work that other tenants of its
 * cohort run on borrowed quota (Kueue's {@code preemption.reclaimWithinCohort}).
 */
public enum ReclaimPolicy {
    /** Never preempt: wait until the borrowers finish. */
    NEVER("Never"),
    /** Preempt borrowed work of a lower priority than the waiting work only. */
    LOWER_PRIORITY("LowerPriority"),
    /** Preempt any borrowed work, whatever its priority. */
    ANY("Any");

    /** The name documents use. */
    public final String key;

    ReclaimPolicy(String key) {
        this.key = key;
    }

    public static ReclaimPolicy byKey(String key) {
        for (ReclaimPolicy p : values()) if (p.key.equals(key)) return p;
        throw new IllegalArgumentException("reclaimWithinCohort '" + key + "' must be Never, LowerPriority or Any");
    }

    /** Whether this policy lets work of {@code preemptorPriority} preempt borrowed work of {@code victimPriority}. */
    public boolean allows(int preemptorPriority, int victimPriority) {
        return switch (this) {
            case NEVER -> false;
            case LOWER_PRIORITY -> victimPriority < preemptorPriority;
            case ANY -> true;
        };
    }
}
