package dev.spillway.core.burst;

import java.util.Set;

/**
 * What one cloud pool still allows in this plan.
 *
 * @param maxNewInstances         instances that may still be launched (max nodes minus those that exist or are coming)
 * @param spendHeadroomUsdPerHour how much hourly spend may still be added; {@code Double.POSITIVE_INFINITY} when uncapped
 * @param allowedInstanceTypes    instance types the pool may use; empty means all
 */
public record PoolLimits(String pool, int maxNewInstances, double spendHeadroomUsdPerHour, Set<String> allowedInstanceTypes) {

    public PoolLimits {
        allowedInstanceTypes = Set.copyOf(allowedInstanceTypes);
    }

    public static PoolLimits unlimited(String pool) {
        return new PoolLimits(pool, Integer.MAX_VALUE, Double.POSITIVE_INFINITY, Set.of());
    }

    boolean allows(Offering o) {
        return allowedInstanceTypes.isEmpty() || allowedInstanceTypes.contains(o.instanceType());
    }
}
