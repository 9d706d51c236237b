package dev.spillway.broker.cloud;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.provider.spi.CapacityProvider;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A configured cloud pool: its settings, its provider, and its offerings as the planner sees them. */
public record CloudPool(String name, BrokerConfig.PoolSettings settings, String region, String jurisdiction, CapacityProvider provider,
                        List<Offering> offerings, Map<String, dev.spillway.provider.spi.Offering> byId) {

    static CloudPool of(String name, BrokerConfig.PoolSettings settings, String region, String jurisdiction, CapacityProvider provider,
                        List<dev.spillway.provider.spi.Offering> catalog) {
        Map<String, dev.spillway.provider.spi.Offering> byId = new HashMap<>();
        List<Offering> offerings = catalog.stream()
                .filter(o -> settings.spot() || !o.spot())
                .map(o -> {
                    String id = name + ":" + o.zone() + ":" + o.instanceType() + (o.spot() ? ":spot" : ":on-demand");
                    byId.put(id, o);
                    return new Offering(id, name, o.region(), o.zone(), jurisdiction, o.instanceType(),
                            new Resources(o.shape().cpuMillis(), o.shape().memoryMib(), o.shape().gpus()), o.spot(), o.priceUsdPerHour());
                })
                .toList();
        return new CloudPool(name, settings, region, jurisdiction, provider, offerings, Map.copyOf(byId));
    }
}
