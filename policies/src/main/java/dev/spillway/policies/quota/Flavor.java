package dev.spillway.policies.quota;

import java.util.Set;
import java.util.regex.Pattern;

/**
 * A named kind of capacity that quota is counted in: one pool or a group of pools, such as
 * {@code onprem} (the racks), {@code cloud-spot} or {@code cloud-on-demand}. Quota is per flavor:
 * 32 cores of {@code onprem} and 32 cores of {@code cloud-spot} are different quotas, and borrowing
 * in a cohort happens within one flavor only (as Kueue's ResourceFlavors).
 *
 * @param pools the pools whose capacity this flavor stands for; a task admitted in this flavor
 *              may be placed on these pools only
 */
public record Flavor(String name, Set<String> pools) {

    private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    public Flavor {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("flavor name '" + name + "' must be lowercase letters, digits and '-', at most 63");
        }
        if (pools == null || pools.isEmpty()) throw new IllegalArgumentException("flavor " + name + " names no pool");
        pools = Set.copyOf(pools);
    }

    public boolean includes(String pool) {
        return pools.contains(pool);
    }
}
