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
}
