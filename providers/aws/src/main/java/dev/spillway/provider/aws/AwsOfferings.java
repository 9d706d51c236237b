package dev.spillway.provider.aws;

import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.Catalog;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.InstanceShape;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
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
 * DescribeSpotPriceHistory (the latest per type and zone).
 */
final class AwsOfferings {

    private static final Logger LOG = Logger.getLogger(AwsOfferings.class.getName());
    /** The only operating system the boot script supports. */
    private static final String PRODUCT = "Linux/UNIX";

    private final AwsProvider.Settings settings;
    private final Ec2Client ec2;

    AwsOfferings(AwsProvider.Settings settings, Ec2Client ec2) {
        this.settings = settings;
        this.ec2 = ec2;
    }

    /** An on-demand (where the catalog prices it) and a spot (where EC2 quotes it) offering per instance type and zone. */
    List<InstanceOffering> read(Collection<String> zones) throws CapacityException {
        Map<String, Double> onDemand = new HashMap<>();
        for (InstanceOffering o : Catalog.load(settings.catalog(), settings.region(), settings.region())) {
            if (!o.spot()) onDemand.put(o.instanceType(), o.priceUsdPerHour());
        }
        Map<String, InstanceShape> shapes = new LinkedHashMap<>();
        Ec2Errors.call("ec2:DescribeInstanceTypes", () -> {
            for (InstanceTypeInfo t : ec2.describeInstanceTypesPaginator(DescribeInstanceTypesRequest.builder()
                    .instanceTypesWithStrings(settings.instanceTypes()).build()).instanceTypes()) {
                int gpus = t.gpuInfo() == null ? 0 : t.gpuInfo().gpus().stream().mapToInt(GpuDeviceInfo::count).sum();
                shapes.put(t.instanceTypeAsString(), new InstanceShape(t.vCpuInfo().defaultVCpus() * 1000L, t.memoryInfo().sizeInMiB(), gpus));
            }
            return null;
        }, "instance-types");
        // Latest spot price per type and zone: the history is newest first within each pair.
        Map<String, Double> spot = new HashMap<>();
        Ec2Errors.call("ec2:DescribeSpotPriceHistory", () -> {
            for (SpotPrice p : ec2.describeSpotPriceHistoryPaginator(DescribeSpotPriceHistoryRequest.builder()
                    .instanceTypesWithStrings(settings.instanceTypes())
                    .productDescriptions(PRODUCT)
                    .startTime(Instant.now())
                    .build()).spotPriceHistory()) {
                spot.putIfAbsent(p.instanceTypeAsString() + "@" + p.availabilityZone(), Double.parseDouble(p.spotPrice()));
            }
            return null;
        }, "instance-types");
        List<InstanceOffering> out = new ArrayList<>();
        for (String type : settings.instanceTypes()) {
            InstanceShape shape = shapes.get(type);
            if (shape == null) {
                LOG.warning("aws: instance type " + type + " is not offered in " + settings.region() + "; left out");
                continue;
            }
            Double price = onDemand.get(type);
            for (String zone : zones) {
                if (price != null) out.add(new InstanceOffering(type, settings.region(), zone, shape, false, price, true));
                Double spotPrice = spot.get(type + "@" + zone);
                if (spotPrice != null) out.add(new InstanceOffering(type, settings.region(), zone, shape, true, spotPrice, true));
            }
            if (price == null) LOG.warning("aws: no on-demand price for " + type + " in catalog " + settings.catalog() + "; only spot is offered");
        }
        return out;
    }
}
