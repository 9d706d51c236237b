package dev.spillway.policies.quota;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the flavor names in Tenant documents stand for, given the broker's pools: a pool's own
 * name is that pool; {@code on-prem} is every on-prem pool and {@code cloud} every cloud pool;
 * {@code cloud-spot} and {@code cloud-on-demand} the spot and the on-demand capacity of every
 * cloud pool. A name that is none of these stands for no pool, so quota in it is never used.
 */
public final class Flavors {

    /** The flavor of every on-prem pool. */
    public static final String ON_PREM = "on-prem";
    /** The flavor of every cloud pool. */
    public static final String CLOUD = "cloud";
    /** The flavor of every cloud pool's spot capacity. */
    public static final String CLOUD_SPOT = "cloud-spot";
    /** The flavor of every cloud pool's on-demand capacity. */
    public static final String CLOUD_ON_DEMAND = "cloud-on-demand";

    /** Whether some of these flavor names tells spot capacity from on-demand: usage must then be counted per node. */
    public static boolean bySpot(Collection<String> names) {
        return names.contains(CLOUD_SPOT) || names.contains(CLOUD_ON_DEMAND);
    }

    private Flavors() {
    }

    /**
     * @param names the flavor names the documents use
     * @param pools every pool the broker knows, by name, with whether it is a cloud pool
     * @return the names that stand for at least one pool, with those pools
     */
    public static Map<String, Flavor> resolve(Collection<String> names, Map<String, Boolean> pools) {
        Map<String, Flavor> out = new LinkedHashMap<>();
        for (String name : names) {
            Set<String> members = new TreeSet<>();
            Flavor.Capacity capacity = switch (name) {
                case CLOUD_SPOT -> Flavor.Capacity.SPOT;
                case CLOUD_ON_DEMAND -> Flavor.Capacity.ON_DEMAND;
                default -> Flavor.Capacity.ANY;
            };
            if (pools.containsKey(name)) {
                members.add(name);
            } else if (name.equals(ON_PREM) || name.equals(CLOUD) || capacity != Flavor.Capacity.ANY) {
                boolean cloud = !name.equals(ON_PREM);
                pools.forEach((pool, isCloud) -> {
                    if (isCloud == cloud) members.add(pool);
                });
            }
            if (!members.isEmpty()) out.put(name, new Flavor(name, members, pools.containsKey(name) ? Flavor.Capacity.ANY : capacity));
        }
        return out;
    }
}
