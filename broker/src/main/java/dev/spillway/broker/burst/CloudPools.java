package dev.spillway.broker.burst;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.scheduling.CloudOfferings;
import dev.spillway.broker.tls.BrokerTransport;
import dev.spillway.core.burst.Offering;
import dev.spillway.provider.spi.AgentDownload;
import dev.spillway.provider.spi.Catalog;
import dev.spillway.provider.aws.AwsProvider;
import dev.spillway.provider.azure.AzureProvider;
import dev.spillway.provider.local.LocalProvider;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The configured cloud pools and their providers. */
@ApplicationScoped
public class CloudPools implements CloudOfferings {

    /** Where the broker serves the agent jar (the api package serves it there). */
    public static final String AGENT_JAR_PATH = "/agent/spillway-agent.jar";

    private final Map<String, CloudPool> pools = new LinkedHashMap<>();

    public CloudPools(BrokerConfig config, AgentJar agentJar, BrokerTransport transport) {
        config.pools().forEach((name, settings) -> {
            if (!settings.kind().equals("on-prem") && !settings.kind().equals("local")) requireReachableAddress(name, settings, config);
            switch (settings.kind()) {
                case "on-prem" -> { }
                case "local" -> pools.put(name, local(name, settings, config, transport));
                case "aws" -> pools.put(name, aws(name, settings, config, agentDownload(name, settings, config, agentJar, transport)));
                case "azure" -> pools.put(name, azure(name, settings, config, agentDownload(name, settings, config, agentJar, transport)));
                default -> throw new IllegalStateException("pool " + name + ": kind '" + settings.kind()
                        + "' has no provider in this build (available: on-prem, local, aws, azure)");
            }
        });
    }

    private static CloudPool local(String name, BrokerConfig.PoolSettings s, BrokerConfig config, BrokerTransport transport) {
        String catalog = s.catalog().orElseThrow(() -> new IllegalStateException(
                "pool " + name + ": set spillway.pools." + name + ".catalog (aws-eu-central-1, azure-westeurope, or a CSV file)"));
        String region = catalog.replaceFirst("^(aws|azure)-", "");
        String jurisdiction = s.jurisdiction().orElse(jurisdictionOf(region));
        String jar = s.agentJar().orElseGet(() -> Path.of(config.home().orElse("."), "on-prem-agent/target/spillway-agent.jar").toString());
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> agent = new java.util.ArrayList<>(List.of(java, "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar));
        // Local instances reach the broker on this machine: they trust its CA file directly, or say plaintext explicitly.
        agent.addAll(transport.tls() ? List.of("--ca-file", transport.caFile().toString()) : List.of("--insecure"));
        LocalProvider provider = new LocalProvider(new LocalProvider.Settings(
                Path.of(config.dataDir(), "local-cloud", name),
                agent,
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
        return new CloudPool(name, s, region, jurisdiction, provider);
    }

    private static CloudPool aws(String name, BrokerConfig.PoolSettings s, BrokerConfig config, AgentDownload agent) {
        String region = required(name, "region", s.region(), "an AWS region, e.g. eu-central-1");
        String catalog = s.catalog().orElseGet(() -> {
            if (Catalog.isBundled("aws-" + region)) return "aws-" + region;
            throw new IllegalStateException("pool " + name + ": no bundled price catalog for " + region
                    + "; set spillway.pools." + name + ".catalog to a CSV file of on-demand prices");
        });
        AwsProvider provider = new AwsProvider(new AwsProvider.Settings(
                region,
                s.endpoint().map(URI::create),
                required(name, "image-id", s.imageId(), "the AMI instances boot, e.g. an Amazon Linux 2023 image"),
                required(name, "subnets", s.subnets(), "subnet ids to launch into, one per zone"),
                s.securityGroups().orElse(List.of()),
                s.instanceProfile(),
                required(name, "instance-types", s.instanceTypes(), "instance types the pool may launch, e.g. m6i.large,m6i.xlarge"),
                catalog,
                agent,
                Duration.ofSeconds(20),
                Optional.empty()));
        return new CloudPool(name, s, region, s.jurisdiction().orElse(jurisdictionOf(region)), provider);
    }

    private static CloudPool azure(String name, BrokerConfig.PoolSettings s, BrokerConfig config, AgentDownload agent) {
        String location = required(name, "region", s.region(), "an Azure location, e.g. westeurope");
        AzureProvider provider = new AzureProvider(new AzureProvider.Settings(
                required(name, "subscription-id", s.subscriptionId(), "the subscription to launch in"),
                required(name, "resource-group", s.resourceGroup(), "the resource group holding the pool's VMs"),
                location,
                required(name, "subnet-id", s.subnetId(), "ARM id of the subnet the VMs join"),
                s.image().orElse("Canonical:ubuntu-24_04-lts:server:latest"),
                required(name, "instance-types", s.instanceTypes(), "VM sizes the pool may launch, e.g. Standard_D2s_v5,Standard_D4s_v5"),
                s.livePrices(),
                s.pricesEndpoint().map(URI::create).orElse(AzureProvider.RETAIL_PRICES),
                agent,
                s.provisioningWait(),
                Duration.ofSeconds(60),
                s.endpoint().map(URI::create),
                Optional.empty(),
                Optional.empty()));
        return new CloudPool(name, s, location, s.jurisdiction().orElse(jurisdictionOf(location)), provider);
    }

    /**
     * Instances of a real cloud call the broker back at its advertised address: a loopback one
     * (the default, {@code 127.0.0.1}) would have every instance call itself and never join.
     * Refused at startup, unless the pool's own endpoint is on this machine too (an EC2- or
     * ARM-compatible service running here, whose instances share this host).
     */
    static void requireReachableAddress(String pool, BrokerConfig.PoolSettings s, BrokerConfig config) {
        String address = config.advertisedAddress().orElse(BrokerAddress.local());
        if (!BrokerAddress.isLoopback(address)) return;
        if (s.endpoint().map(URI::create).map(URI::getHost).filter(BrokerAddress::isLoopbackHost).isPresent()) return;
        throw new IllegalStateException("pool " + pool + " (kind " + s.kind() + "): instances would be told to reach the broker at "
                + address + ", a loopback address they cannot reach; set spillway.advertised-address (env SPILLWAY_ADVERTISED_ADDRESS) "
                + "to a host:port the pool's instances can reach");
    }

    /**
     * What a pool's boot scripts fetch and trust: the jar this broker serves (over https when the
     * broker has TLS, with the join token) or the pool's {@code agent-url} (no token sent there),
     * checked against the SHA-256 of this broker's jar either way; the broker's CA when it has TLS.
     */
    static AgentDownload agentDownload(String pool, BrokerConfig.PoolSettings s, BrokerConfig config, AgentJar jar, BrokerTransport transport) {
        String sha256 = jar.sha256().orElseThrow(() -> new IllegalStateException("pool " + pool + " (kind " + s.kind()
                + "): this broker has no agent jar, so its instances could not check the one they download; set spillway.agent-jar "
                + "(or spillway.home to a built Spillway)"));
        String url = s.agentUrl().orElseGet(() -> transport.scheme() + "://" + config.advertisedAddress().orElse(BrokerAddress.local())
                + AGENT_JAR_PATH);
        return new AgentDownload(url, sha256, transport.caPem(), s.agentUrl().isEmpty());
    }

    /** EU for European regions, US for American ones, else the region itself (set {@code jurisdiction} to say otherwise). */
    static String jurisdictionOf(String region) {
        if (region.startsWith("eu") || region.contains("europe")) return "EU";
        if (region.startsWith("us-") || region.endsWith("us") || region.matches(".*us\\d")) return "US";
        return region;
    }

    private static <T> T required(String pool, String key, Optional<T> value, String what) {
        return value.orElseThrow(() -> new IllegalStateException("pool " + pool + ": set spillway.pools." + pool + "." + key + " (" + what + ")"));
    }

    @Override
    public Map<String, Offering> byId() {
        Map<String, Offering> out = new java.util.HashMap<>();
        for (CloudPool pool : all().values()) for (Offering o : pool.offerings()) out.put(o.id(), o);
        return out;
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
