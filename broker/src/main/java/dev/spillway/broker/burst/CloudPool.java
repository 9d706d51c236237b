package dev.spillway.broker.burst;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.core.burst.CloudPoolSpec;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.CapacityProvider;
import dev.spillway.provider.spi.InstanceOffering;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * A configured cloud pool: its settings, its provider, and its offerings as the planner sees them.
 * Offerings (spot prices above all) are read from the provider again every
 * {@code offerings-refresh}; when that fails the last good list stays.
 */
public final class CloudPool {

    private static final Logger LOG = Logger.getLogger(CloudPool.class);

    private final String name;
    private final BrokerConfig.PoolSettings settings;
    private final String region;
    private final String jurisdiction;
    private final CapacityProvider provider;
    private volatile List<Offering> offerings = List.of();
    private volatile Map<String, InstanceOffering> byId = Map.of();
    private volatile Instant nextRefresh = Instant.EPOCH;
    private volatile String refreshError;

    CloudPool(String name, BrokerConfig.PoolSettings settings, String region, String jurisdiction, CapacityProvider provider) {
        this.name = name;
        this.settings = settings;
        this.region = region;
        this.jurisdiction = jurisdiction;
        this.provider = provider;
    }

    /** After a failed read, the next try comes this soon (or at the regular refresh, if sooner). */
    private static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(30);

    /** Reads the provider's offerings if they are older than {@code every}; keeps the last good ones on failure and tries again soon. */
    void refreshIfOlderThan(Duration every, Instant now) {
        if (now.isBefore(nextRefresh)) return;
        nextRefresh = now.plus(every);
        try {
            accept(provider.offerings());
            if (refreshError != null) LOG.infof("pool %s: offerings read again (%d)", name, offerings.size());
            refreshError = null;
        } catch (CapacityException | RuntimeException e) {
            refreshError = e.getMessage();
            if (RETRY_AFTER_FAILURE.compareTo(every) < 0) nextRefresh = now.plus(RETRY_AFTER_FAILURE);
            LOG.warnf("pool %s: cannot read offerings (%s); %s", name, e.getMessage(),
                    offerings.isEmpty() ? "the pool cannot burst until they can be read" : "keeping the last ones read");
        }
    }

    private void accept(List<InstanceOffering> catalog) {
        Map<String, InstanceOffering> ids = new HashMap<>();
        List<Offering> planned = catalog.stream()
                .filter(o -> settings.spot() || !o.spot())
                .filter(InstanceOffering::available)
                .map(o -> {
                    String id = Offering.id(name, o.zone(), o.instanceType(), o.spot());
                    ids.put(id, o);
                    return new Offering(id, name, o.region(), o.zone(), jurisdiction, o.instanceType(),
                            new Resources(o.shape().cpuMillis(), o.shape().memoryMib(), o.shape().gpus()), o.spot(), o.priceUsdPerHour());
                })
                .toList();
        this.byId = Map.copyOf(ids);
        this.offerings = planned;
    }

    public String name() {
        return name;
    }

    public BrokerConfig.PoolSettings settings() {
        return settings;
    }

    public String region() {
        return region;
    }

    public String jurisdiction() {
        return jurisdiction;
    }

    public CapacityProvider provider() {
        return provider;
    }

    /** The offerings last read, as the planner sees them. */
    public List<Offering> offerings() {
        return offerings;
    }

    /** The provider's offering behind a planner offering id. */
    public Map<String, InstanceOffering> byId() {
        return byId;
    }

    /** The pool as the burst decision reads it. */
    public CloudPoolSpec spec() {
        return new CloudPoolSpec(name, jurisdiction, settings.minNodes(), settings.maxNodes(),
                settings.maxSpendUsdPerHour().orElse(Double.POSITIVE_INFINITY), Set.copyOf(settings.instanceTypes().orElse(List.of())),
                settings.burstAfter(), settings.scaleDownAfter(), settings.joinTimeout(), settings.capacityErrorBackoff(),
                settings.joinFailureLimit());
    }

    /** Why the last read of the offerings failed; null when it worked. */
    public String refreshError() {
        return refreshError;
    }
}
