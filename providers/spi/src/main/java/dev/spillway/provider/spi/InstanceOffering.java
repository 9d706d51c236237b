package dev.spillway.provider.spi;

/**
 * One instance type in one zone, spot or on-demand, at a price.
 *
 * @param priceUsdPerHour list price (on-demand) or current price (spot) of one instance
 * @param available       false while the provider knows it cannot be had (e.g. no spot capacity)
 */
public record InstanceOffering(String instanceType, String region, String zone, InstanceShape shape, boolean spot, double priceUsdPerHour,
                               boolean available) {
}
