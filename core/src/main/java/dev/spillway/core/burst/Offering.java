package dev.spillway.core.burst;

import dev.spillway.core.scheduling.Resources;

/**
 * One way to buy a machine: an instance type in one region/zone of one cloud pool, spot or
 * on-demand, at a price.
 *
 * @param id              unique and stable, e.g. {@code aws-eu:eu-central-1a:m6i.xlarge:spot}; ties break on it
 * @param pool            the cloud pool it belongs to
 * @param region          e.g. {@code eu-central-1}
 * @param zone            e.g. {@code eu-central-1a}; may equal the region
 * @param jurisdiction    legal area of the region, e.g. {@code EU}, {@code US}
 * @param shape           what an instance offers to tasks
 * @param priceUsdPerHour price of one instance
 */
public record Offering(String id, String pool, String region, String zone, String jurisdiction, String instanceType,
                       Resources shape, boolean spot, double priceUsdPerHour) {

    public Offering {
        if (priceUsdPerHour <= 0 || Double.isNaN(priceUsdPerHour)) throw new IllegalArgumentException("price must be positive: " + id);
    }

    /** Node label of a cloud instance's type, fixed by its join token. */
    public static final String INSTANCE_TYPE_LABEL = "spillway.dev/instance-type";
    /** Node label of a cloud instance's zone, fixed by its join token. */
    public static final String ZONE_LABEL = "spillway.dev/zone";

    /** The id of the offering a cloud node of {@code pool} was bought as, from its labels; null for a node that is not a cloud instance. */
    public static String idOfNode(String pool, java.util.Map<String, String> labels) {
        String type = labels.get(INSTANCE_TYPE_LABEL);
        String zone = labels.get(ZONE_LABEL);
        if (type == null || zone == null) return null;
        return id(pool, zone, type, "true".equals(labels.get(dev.spillway.core.scheduling.TaskShape.SPOT_LABEL)));
    }

    /** The one spelling of an offering id: {@code pool:zone:type:spot|on-demand}. */
    public static String id(String pool, String zone, String instanceType, boolean spot) {
        return pool + ":" + zone + ":" + instanceType + (spot ? ":spot" : ":on-demand");
    }
}
