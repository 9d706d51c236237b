package dev.spillway.broker.cloud;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.provider.spi.Catalog;
import dev.spillway.provider.local.LocalProvider;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The configured cloud pools and their providers. */
@ApplicationScoped
public class CloudPools {

    private final Map<String, CloudPool> pools = new LinkedHashMap<>();

    public CloudPools(BrokerConfig config) {
        config.pools().forEach((name, settings) -> {
            switch (settings.kind()) {
                case "on-prem" -> { }
                case "local" -> pools.put(name, local(name, settings, config));
                default -> throw new IllegalStateException("pool " + name + ": kind '" + settings.kind()
                        + "' has no provider in this build (available: on-prem, local)");
            }
        });
    }

    private static CloudPool local(String name, BrokerConfig.PoolSettings s, BrokerConfig config) {
        String catalog = s.catalog().orElseThrow(() -> new IllegalStateException(
                "pool " + name + ": set spillway.pools." + name + ".catalog (aws-eu-central-1, azure-westeurope, or a CSV file)"));
        String region = catalog.replaceFirst("^(aws|azure)-", "");
        String jurisdiction = s.jurisdiction().orElse(region.startsWith("eu") || region.contains("europe") ? "EU" : "US");
        String jar = s.agentJar().orElseGet(() -> Path.of(config.home().orElse("."), "on-prem-agent/target/spillway-agent.jar").toString());
        String java = ProcessHandle.current().info().command().orElse("java");
        LocalProvider provider = new LocalProvider(new LocalProvider.Settings(
                Path.of(config.dataDir(), "local-cloud", name),
                List.of(java, "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar),
                s.bootDelay(),
                Catalog.load(catalog, region, catalog.startsWith("azure") ? region + "-1" : region + "a")));
        s.faultNoCapacity().orElse(List.of()).forEach(f -> {
            String[] parts = f.split("[@:]");
            if (parts.length != 3) throw new IllegalStateException("pool " + name + ": fault-no-capacity entries look like type@zone:spot");
            provider.faults().noCapacity(parts[0], parts[1], parts[2].equals("spot"));
        });
        if (config.failpoint().filter("burst.during-launch"::equals).isPresent()) {
            provider.faults().haltDuringLaunch();
        }
        return CloudPool.of(name, s, region, jurisdiction, provider, provider.offerings());
    }

    public Map<String, CloudPool> all() {
        return pools;
    }

    public CloudPool get(String name) {
        return pools.get(name);
    }

    void close(@Observes ShutdownEvent event) {
        pools.values().forEach(p -> {
            if (p.provider() instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // shutting down
                }
            }
        });
    }
}
