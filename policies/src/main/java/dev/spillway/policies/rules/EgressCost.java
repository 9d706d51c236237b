package dev.spillway.policies.rules;

import dev.spillway.policies.document.EgressPricesDoc;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What moving data between two locations costs. Locations are {@code site:<name>} or
 * {@code <cloud>:<region>}. Prices are USD per GB (10^9 bytes), the unit clouds bill egress in.
 *
 * <p>Lookup order: an exact {@code (from, to)} price from the applied table, then {@code (from, *)},
 * then {@code (*, to)}, then the bundled defaults: nothing within one location; nothing out of an
 * on-prem site (uplinks are not metered per byte) or the local simulated cloud; between regions of
 * one cloud 0.02; out of a cloud to anywhere else its list internet egress price (AWS 0.09,
 * Azure 0.087, GCP 0.12, other clouds 0.09).
 */
public final class EgressCost {

    private static final Map<String, Double> INTERNET_EGRESS = Map.of("aws", 0.09, "azure", 0.087, "gcp", 0.12);
    private static final double INTER_REGION = 0.02;
    private static final double OTHER_CLOUD = 0.09;

    public static final EgressCost DEFAULTS = new EgressCost(List.of());

    private final Map<String, Double> table = new HashMap<>();

    public EgressCost(List<EgressPricesDoc.Price> prices) {
        for (EgressPricesDoc.Price p : prices) table.put(p.from() + "\u0000" + p.to(), p.usdPerGb());
    }

    public double usdPerGb(String from, String to) {
        if (from.equals(to)) return 0; // data where it is moves nowhere, whatever a wildcard price says
        Double p = table.get(from + "\u0000" + to);
        if (p == null) p = table.get(from + "\u0000*");
        if (p == null) p = table.get("*\u0000" + to);
        if (p != null) return p;
        String fromProvider = provider(from);
        if (fromProvider.equals("site") || fromProvider.equals("local")) return 0;
        if (fromProvider.equals(provider(to))) return INTER_REGION;
        return INTERNET_EGRESS.getOrDefault(fromProvider, OTHER_CLOUD);
    }

    /** The cost of moving {@code bytes} from one location to another, USD. */
    public double usd(long bytes, String from, String to) {
        if (bytes < 0) throw new IllegalArgumentException("negative bytes: " + bytes);
        return bytes / 1e9 * usdPerGb(from, to);
    }

    private static String provider(String location) {
        int colon = location.indexOf(':');
        return colon < 0 ? location : location.substring(0, colon);
    }
}
