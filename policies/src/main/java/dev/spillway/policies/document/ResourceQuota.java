package dev.spillway.policies.document;

/**
 * How much of one resource a tenant is promised in a flavor, in the resource's unit
 * ({@link FlavorQuota.Resource}).
 *
 * @param nominal        guaranteed to the tenant
 * @param borrowingLimit how much more it may borrow from its cohort; null means no limit
 * @param lendingLimit   how much of its nominal quota it may lend when idle; null means all of it
 */
public record ResourceQuota(long nominal, Long borrowingLimit, Long lendingLimit) {
}
