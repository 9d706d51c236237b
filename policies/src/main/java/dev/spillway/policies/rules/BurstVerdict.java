package dev.spillway.policies.rules;

/**
 * Whether a job may burst onto one offering, and if not, which rule refused and why.
 *
 * @param rule   {@code policy/rule} that refused, {@code residency}, or null when allowed
 * @param reason human-readable reason; null when allowed
 */
public record BurstVerdict(boolean allowed, String rule, String reason) {

    public static final BurstVerdict ALLOWED = new BurstVerdict(true, null, null);

    public static BurstVerdict refused(String rule, String reason) {
        return new BurstVerdict(false, rule, reason);
    }
}
