package dev.spillway.broker.cluster;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.store.NodeStore;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Creates the configured pools at startup, so they are listed before any node joins. */
@ApplicationScoped
public class ConfiguredPools {

    void create(@Observes StartupEvent event, BrokerConfig config, NodeStore nodes) {
        config.pools().forEach((name, settings) -> nodes.ensurePool(name, settings.kind()).await().indefinitely());
    }
}
