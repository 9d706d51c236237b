package dev.spillway.provider.spi;

import java.util.Map;

/**
 * One instance to launch.
 *
 * @param idempotencyKey         unique per intended instance; retries reuse it (EC2 ClientToken, Azure VM name)
 * @param maxPriceUsdPerHour     for spot: the most to pay; ignored on demand
 * @param tags                   at least {@link Tags#CLUSTER}, {@link Tags#POOL} and {@link Tags#REQUEST}
 */
public record LaunchRequest(String idempotencyKey, String instanceType, String region, String zone, boolean spot,
                            double maxPriceUsdPerHour, Map<String, String> tags, AgentBootstrap bootstrap) {

    public LaunchRequest {
        tags = Map.copyOf(tags);
    }
}
