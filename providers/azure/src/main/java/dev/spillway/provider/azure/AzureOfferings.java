package dev.spillway.provider.azure;

import com.azure.core.util.Context;
import com.azure.resourcemanager.compute.ComputeManager;
import com.azure.resourcemanager.compute.fluent.models.ResourceSkuInner;
import com.azure.resourcemanager.compute.models.ResourceSkuCapabilities;
import com.azure.resourcemanager.compute.models.ResourceSkuRestrictions;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.CapacityException.Kind;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.InstanceShape;
import java.io.IOException;
import java.net.http.HttpClient;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * What a pool's VM sizes offer in its location: shapes from the Resource SKUs API (sizes
 * restricted for the subscription there are marked unavailable), on-demand and spot prices from
 * the bundled snapshot of the Retail Prices API or, with {@code livePrices}, the API itself. One
 * size that cannot be had never disables the pool: it is named, with why.
 */
final class AzureOfferings {

    private static final Logger LOG = Logger.getLogger(AzureOfferings.class.getName());

    private final AzureProvider.Settings settings;
    private final ComputeManager compute;
    private final HttpClient priceHttp;
    private volatile Map<String, String> unusable = Map.of();

    AzureOfferings(AzureProvider.Settings settings, ComputeManager compute, HttpClient priceHttp) {
        this.settings = settings;
        this.compute = compute;
        this.priceHttp = priceHttp;
    }

    /** The pool's sizes the last successful {@link #read} could not offer, with why, in the pool's order. */
    Map<String, String> unusable() {
        return unusable;
    }

    /**
     * One on-demand and (where priced) one spot offering per VM size of the pool, in the pool's
     * order. A size Resource SKUs does not list here, or that has no price, is left out; a size
     * restricted for the subscription here is offered unavailable; both are named in
     * {@link #unusable()}, and the other sizes are offered as usual.
     */
    List<InstanceOffering> read() throws CapacityException {
        Map<String, RetailPrices.Price> prices = prices();
        List<InstanceOffering> out = new ArrayList<>();
        List<ResourceSkuInner> skus = AzureErrors.call("Microsoft.Compute/skus/read", "location", () -> {
            List<ResourceSkuInner> all = new ArrayList<>();
            compute.serviceClient().getResourceSkus().list("location eq '" + settings.location() + "'", null, Context.NONE).forEach(all::add);
            return all;
        });
        Map<String, ResourceSkuInner> bySize = new HashMap<>();
        for (ResourceSkuInner sku : skus) {
            if ("virtualMachines".equals(sku.resourceType())) bySize.putIfAbsent(sku.name(), sku);
        }
        String location = settings.location();
        Map<String, String> unusable = new LinkedHashMap<>();
        for (String size : settings.vmSizes()) {
            ResourceSkuInner sku = bySize.get(size);
            if (sku == null) {
                unusable.put(size, "not a VM size Resource SKUs lists in " + location);
                continue;
            }
            RetailPrices.Price price = prices.get(size);
            if (price == null || (Double.isNaN(price.onDemand()) && Double.isNaN(price.spot()))) {
                unusable.put(size, "no Linux price for it in " + location + " in " + (settings.livePrices() ? "the Retail Prices API"
                        : "the bundled Retail Prices snapshot (set live-prices=true to read the API)"));
                continue;
            }
            InstanceShape shape = new InstanceShape(Math.round(capability(sku, "vCPUs") * 1000), Math.round(capability(sku, "MemoryGB") * 1024),
                    (int) capability(sku, "GPUs"));
            Optional<ResourceSkuRestrictions> restriction = sku.restrictions() == null ? Optional.empty()
                    : sku.restrictions().stream().filter(AzureOfferings::blocksLocation).findFirst();
            boolean available = restriction.isEmpty();
            restriction.ifPresent(r -> unusable.put(size, "restricted for this subscription in " + location
                    + (r.reasonCode() == null ? "" : " (" + r.reasonCode() + ")")));
            if (!Double.isNaN(price.onDemand())) out.add(new InstanceOffering(size, location, location, shape, false, price.onDemand(), available));
            if (!Double.isNaN(price.spot())) out.add(new InstanceOffering(size, location, location, shape, true, price.spot(), available));
        }
        unusable.forEach((size, why) -> LOG.warning("azure: VM size " + size + " cannot be launched: " + why));
        this.unusable = Collections.unmodifiableMap(unusable);
        return out;
    }

    private Map<String, RetailPrices.Price> prices() throws CapacityException {
        if (!settings.livePrices()) return RetailPrices.bundled(settings.location());
        try {
            return RetailPrices.live(settings.pricesEndpoint(), settings.location(), priceHttp);
        } catch (IOException e) {
            throw new CapacityException(Kind.UNAVAILABLE, "the Azure Retail Prices API could not be read: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CapacityException(Kind.UNAVAILABLE, "interrupted while reading the Azure Retail Prices API", e);
        }
    }

    private static boolean blocksLocation(ResourceSkuRestrictions r) {
        return r.type() != null && "Location".equalsIgnoreCase(r.type().toString());
    }

    private static double capability(ResourceSkuInner sku, String name) {
        if (sku.capabilities() == null) return 0;
        for (ResourceSkuCapabilities c : sku.capabilities()) {
            if (name.equalsIgnoreCase(c.name())) return Double.parseDouble(c.value());
        }
        return 0;
    }
}
