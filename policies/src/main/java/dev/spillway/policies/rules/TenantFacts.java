package dev.spillway.policies.rules;

import java.util.Map;
import java.util.Objects;

/**
 * What rules may know about a tenant at the time of a decision ({@code tenant} in CEL).
 *
 * @param usage       what it holds now, per resource ({@code cpu} millicores, {@code memory} MiB, {@code gpu})
 * @param quota       its nominal quota, summed over flavors, per resource
 * @param budgetUsd   its budget for the current period; 0 when it has none
 * @param spentUsd    what it spent in the current period
 * @param budgetState {@code ok}, {@code warning} or {@code exceeded} (the budget engine's word)
 */
public record TenantFacts(String name, String cohort, Map<String, Long> usage, Map<String, Long> quota, double budgetUsd,
                          double spentUsd, String budgetState) {

    public TenantFacts {
        Objects.requireNonNull(name, "name");
        cohort = cohort == null ? "" : cohort;
        usage = Map.copyOf(usage);
        quota = Map.copyOf(quota);
        budgetState = budgetState == null ? "ok" : budgetState;
    }

    /** A tenant with no usage, quota or budget. */
    public static TenantFacts named(String name) {
        return new TenantFacts(name, "", Map.of(), Map.of(), 0, 0, "ok");
    }
}
