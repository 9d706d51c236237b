package dev.spillway.policies.rules;

/**
 * What placement rules know about a node's pool ({@code node.kind}, {@code node.region}, ...).
 *
 * @param kind            {@code on-prem}, {@code aws}, {@code azure} or {@code local}
 * @param region          site or cloud region
 * @param jurisdiction    legal area; null to take the node's {@code spillway.dev/jurisdiction} label
 * @param priceUsdPerHour what one node costs per hour (amortised on-prem); 0 when unknown
 */
public record PoolFacts(String name, String kind, String region, String jurisdiction, double priceUsdPerHour) {

    /** Node label naming the site (data centre) an on-prem node is in, for data gravity: {@code site:<value>}. */
    public static final String SITE_LABEL = "spillway.dev/site";

    /**
     * Where a node of this pool is, as {@code Dataset} and {@code EgressPrices} documents name
     * places: {@code <cloud>:<region>} for a cloud pool ({@code aws:eu-central-1}); for an on-prem
     * pool {@code site:<site>} from the node's {@link #SITE_LABEL}, else {@code site:<pool name>}.
     */
    public String location(String siteLabel) {
        boolean onPrem = kind.isEmpty() || kind.equals("on-prem");
        if (onPrem) return "site:" + (siteLabel != null && !siteLabel.isBlank() ? siteLabel : name);
        return kind + ":" + region;
    }
}
