package dev.spillway.broker.cluster;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.NodeStore;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Creates the configured pools at startup, so they are listed before any node joins. */
@ApplicationScoped
public class ConfiguredPools {

    void create(@Observes StartupEvent event, BrokerConfig config, NodeStore nodes, DatabaseCalls db) {
        config.pools().forEach((name, settings) -> db.await(nodes.ensurePool(name, settings.kind()), "creating pool " + name));
    }
}
