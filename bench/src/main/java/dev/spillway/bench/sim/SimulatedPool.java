package dev.spillway.bench.sim;

import dev.spillway.core.burst.CloudPoolSpec;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.sim.Simulation;
import dev.spillway.provider.spi.Catalog;
import dev.spillway.provider.spi.InstanceOffering;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A simulated cloud pool: the settings the burst decision reads ({@link CloudPoolSpec}) plus what
 * the simulator needs to play the cloud: where its offerings come from and how long its
 * instances take to boot.
 *
 * @param catalog       a bundled price catalog ({@code aws-eu-central-1}, {@code azure-westeurope}) or a CSV file
 * @param spotAllowed   whether the pool offers spot capacity (used by tasks that tolerate it; never interrupted here)
 * @param bootDelayMin  shortest time from launch until the instance's agent joins
 * @param bootDelayMax  longest such time; each instance draws uniformly in between from the simulation's seed
 */
public record SimulatedPool(CloudPoolSpec spec, String catalog, String region, String zone, boolean spotAllowed,
                            Duration bootDelayMin, Duration bootDelayMax) {

    /** Used by {@code --burst} without {@code --pools}: AWS eu-central-1 list prices, at most 16 instances. */
    public static SimulatedPool defaultPool() {
        return new SimulatedPool(new CloudPoolSpec("aws-eu", "EU", 0, 16, Double.POSITIVE_INFINITY, Set.of(), Duration.ofSeconds(30),
                Duration.ofSeconds(60), Duration.ofMinutes(5), Duration.ofMinutes(3), 3),
                "aws-eu-central-1", "eu-central-1", "eu-central-1a", true, Duration.ofSeconds(60), Duration.ofSeconds(90));
    }

    public SimulatedPool {
        if (bootDelayMin.isNegative() || bootDelayMax.compareTo(bootDelayMin) < 0) {
            throw new IllegalArgumentException("pool " + spec.name() + ": boot delay must be 0 <= min <= max");
        }
    }

    public String name() {
        return spec.name();
    }

    /** The pool as the simulation plays it. */
    public Simulation.CloudPool toCloudPool() {
        return new Simulation.CloudPool(spec, offerings(), bootDelayMin, bootDelayMax);
    }

    /** The catalog's offerings (spot ones only when the pool allows spot), as the burst decision sees them. */
    public List<Offering> offerings() {
        List<Offering> out = new ArrayList<>();
        for (InstanceOffering o : Catalog.load(catalog, region, zone)) {
            if (!o.available() || (o.spot() && !spotAllowed)) continue;
            out.add(new Offering(Offering.id(name(), o.zone(), o.instanceType(), o.spot()), name(), o.region(), o.zone(), spec.jurisdiction(),
                    o.instanceType(), new Resources(o.shape().cpuMillis(), o.shape().memoryMib(), o.shape().gpus()), o.spot(),
                    o.priceUsdPerHour()));
        }
        if (out.isEmpty()) throw new IllegalArgumentException("pool " + name() + ": the catalog " + catalog + " offers nothing");
        return out;
    }
}
