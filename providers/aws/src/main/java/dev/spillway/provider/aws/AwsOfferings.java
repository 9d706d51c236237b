package dev.spillway.provider.aws;

import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.Catalog;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.InstanceShape;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.DescribeInstanceTypesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeSpotPriceHistoryRequest;
import software.amazon.awssdk.services.ec2.model.GpuDeviceInfo;
import software.amazon.awssdk.services.ec2.model.InstanceTypeInfo;
import software.amazon.awssdk.services.ec2.model.SpotPrice;

/**
 * What a pool's instance types offer in the zones of its subnets: shapes from
 * DescribeInstanceTypes, on-demand prices from the price catalog, spot prices live from
 * DescribeSpotPriceHistory (the latest per type and zone). One type EC2 does not know never
 * disables the pool: it is left out and named, with why.
 */
final class AwsOfferings {

    private static final Logger LOG = Logger.getLogger(AwsOfferings.class.getName());
    /** The only operating system the boot script supports. */
    private static final String PRODUCT = "Linux/UNIX";

    private final AwsProvider.Settings settings;
    private final Ec2Client ec2;
    private volatile Map<String, String> unusable = Map.of();

    AwsOfferings(AwsProvider.Settings settings, Ec2Client ec2) {
        this.settings = settings;
        this.ec2 = ec2;
    }

    /** The pool's types the last successful {@link #read} could not offer, with why, in the pool's order. */
    Map<String, String> unusable() {
        return unusable;
    }

    /**
     * An on-demand (where the catalog prices it) and a spot (where EC2 quotes it) offering per
     * instance type and zone. A type EC2 does not know, or that has no price at all, is left out
     * and named in {@link #unusable()}; the other types are offered as usual.
     */
    List<InstanceOffering> read(Collection<String> zones) throws CapacityException {
        Map<String, String> unusable = new LinkedHashMap<>();
        Map<String, InstanceShape> shapes = shapes(settings.instanceTypes(), unusable);
        List<String> known = settings.instanceTypes().stream().filter(shapes::containsKey).toList();
        Map<String, Double> onDemand = new HashMap<>();
        for (InstanceOffering o : Catalog.load(settings.catalog(), settings.region(), settings.region())) {
            if (!o.spot()) onDemand.put(o.instanceType(), o.priceUsdPerHour());
        }
        Map<String, Double> spot = known.isEmpty() ? Map.of() : spotPrices(known);
        List<InstanceOffering> out = new ArrayList<>();
        for (String type : settings.instanceTypes()) {
            if (unusable.containsKey(type)) continue;
            InstanceShape shape = shapes.get(type);
            if (shape == null) {
                unusable.put(type, "EC2 describes no instance type " + type + " in " + settings.region());
                continue;
            }
            Double price = onDemand.get(type);
            int before = out.size();
            for (String zone : zones) {
                if (price != null) out.add(new InstanceOffering(type, settings.region(), zone, shape, false, price, true));
                Double spotPrice = spot.get(type + "@" + zone);
                if (spotPrice != null) out.add(new InstanceOffering(type, settings.region(), zone, shape, true, spotPrice, true));
            }
            if (out.size() == before) {
                unusable.put(type, "no price: the catalog " + settings.catalog() + " has no on-demand price for it and EC2 quotes no spot price in "
                        + String.join(", ", zones));
            } else if (price == null) {
                LOG.warning("aws: no on-demand price for " + type + " in catalog " + settings.catalog() + "; only spot is offered");
            }
        }
        unusable.forEach((type, why) -> LOG.warning("aws: instance type " + type + " is left out: " + why));
        this.unusable = Collections.unmodifiableMap(unusable);
        return out;
    }

    /**
     * The shapes of {@code types}, asked in one DescribeInstanceTypes. EC2 refuses the whole
     * request when one type does not exist (InvalidInstanceType), so then each type is asked on
     * its own and the ones EC2 does not know are named in {@code unusable}.
     */
    private Map<String, InstanceShape> shapes(List<String> types, Map<String, String> unusable) throws CapacityException {
        try {
            return describeTypes(types);
        } catch (CapacityException e) {
            String code = Ec2Errors.code(e);
            if (!code.equals("InvalidInstanceType") && !code.equals("InvalidParameterValue")) throw e;
            if (types.size() == 1) {
                unusable.put(types.get(0), "not an instance type EC2 knows in " + settings.region() + " (" + code + ")");
                return Map.of();
            }
            Map<String, InstanceShape> out = new LinkedHashMap<>();
            for (String type : types) out.putAll(shapes(List.of(type), unusable));
            return out;
        }
    }

    private Map<String, InstanceShape> describeTypes(List<String> types) throws CapacityException {
        return Ec2Errors.call("ec2:DescribeInstanceTypes", () -> {
            Map<String, InstanceShape> shapes = new LinkedHashMap<>();
            for (InstanceTypeInfo t : ec2.describeInstanceTypesPaginator(DescribeInstanceTypesRequest.builder()
                    .instanceTypesWithStrings(types).build()).instanceTypes()) {
                int gpus = t.gpuInfo() == null ? 0 : t.gpuInfo().gpus().stream().mapToInt(GpuDeviceInfo::count).sum();
                shapes.put(t.instanceTypeAsString(), new InstanceShape(t.vCpuInfo().defaultVCpus() * 1000L, t.memoryInfo().sizeInMiB(), gpus));
            }
            return shapes;
        }, "instance-types");
    }

    /** The latest spot price per {@code type@zone} (the history is newest first within each pair). */
    private Map<String, Double> spotPrices(List<String> types) throws CapacityException {
        return Ec2Errors.call("ec2:DescribeSpotPriceHistory", () -> {
            Map<String, Double> spot = new HashMap<>();
            for (SpotPrice p : ec2.describeSpotPriceHistoryPaginator(DescribeSpotPriceHistoryRequest.builder()
                    .instanceTypesWithStrings(types)
                    .productDescriptions(PRODUCT)
                    .startTime(Instant.now())
                    .build()).spotPriceHistory()) {
                spot.putIfAbsent(p.instanceTypeAsString() + "@" + p.availabilityZone(), Double.parseDouble(p.spotPrice()));
            }
            return spot;
        }, "instance-types");
    }
}
