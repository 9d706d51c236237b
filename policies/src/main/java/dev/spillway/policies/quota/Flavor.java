package dev.spillway.policies.quota;

import java.util.Set;
import java.util.regex.Pattern;

/**
 * A named kind of capacity that quota is counted in: one pool or a group of pools, such as
 * {@code on-prem} (the racks), {@code cloud-spot} or {@code cloud-on-demand}. Quota is per flavor:
 * 32 cores of {@code on-prem} and 32 cores of {@code cloud-spot} are different quotas, and
 * borrowing in a cohort happens within one flavor only (as Kueue's ResourceFlavors).
 *
 * @param pools    the pools whose capacity this flavor stands for; a task admitted in this flavor
 *                 may be placed on these pools only
 * @param capacity which of those pools' capacity: any, only spot (interruptible) or only on-demand
 */
public record Flavor(String name, Set<String> pools, Capacity capacity) {

    /** Which capacity of its pools a flavor stands for. */
    public enum Capacity {
        ANY, SPOT, ON_DEMAND
    }

    private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    public Flavor {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("flavor name '" + name + "' must be lowercase letters, digits and '-', at most 63");
        }
        if (pools == null || pools.isEmpty()) throw new IllegalArgumentException("flavor " + name + " names no pool");
        pools = Set.copyOf(pools);
        if (capacity == null) capacity = Capacity.ANY;
    }

    /** A flavor of all of its pools' capacity. */
    public Flavor(String name, Set<String> pools) {
        this(name, pools, Capacity.ANY);
    }

    /** Whether a node of {@code pool}, spot or not, is capacity of this flavor. */
    public boolean includes(String pool, boolean spot) {
        return pools.contains(pool) && switch (capacity) {
            case ANY -> true;
            case SPOT -> spot;
            case ON_DEMAND -> !spot;
        };
    }
}
