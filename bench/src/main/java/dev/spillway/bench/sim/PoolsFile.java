package dev.spillway.bench.sim;

import dev.spillway.core.burst.CloudPoolSpec;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The simulator's cloud pools, in YAML, with the broker's pool setting names:
 *
 * <pre>
 * pools:
 *   aws-eu:
 *     catalog: aws-eu-central-1        # required: bundled (aws-eu-central-1, azure-westeurope) or a CSV file
 *     region: eu-central-1             # default for the bundled catalogs: theirs
 *     zone: eu-central-1a              # default: the region
 *     jurisdiction: EU                 # default: EU for European regions, else the region
 *     min-nodes: 0
 *     max-nodes: 16
 *     max-spend-usd-per-hour: 2.5      # default: uncapped
 *     instance-types: [m5.large, c5.xlarge]   # default: any in the catalog
 *     spot: true                       # offer spot capacity (to tasks that tolerate it)
 *     burst-after: 30s
 *     scale-down-after: 60s
 *     join-timeout: 5m
 *     capacity-error-backoff: 3m
 *     join-failure-limit: 3
 *     boot-delay: 60s-90s              # or one value; each instance draws from the range with the seed
 * </pre>
 *
 * Unknown keys are refused by name, so a misspelt setting never silently takes its default.
 */
public final class PoolsFile {

    private static final Set<String> KEYS = new TreeSet<>(List.of("catalog", "region", "zone", "jurisdiction", "min-nodes", "max-nodes",
            "max-spend-usd-per-hour", "instance-types", "spot", "burst-after", "scale-down-after", "join-timeout",
            "capacity-error-backoff", "join-failure-limit", "boot-delay"));
    private static final Map<String, String> BUNDLED_REGIONS = Map.of("aws-eu-central-1", "eu-central-1", "azure-westeurope", "westeurope");

    private PoolsFile() {}

    public static List<SimulatedPool> read(Path file) throws IOException {
        try (Reader in = Files.newBufferedReader(file)) {
            return read(in, file.toString());
        }
    }

    public static List<SimulatedPool> read(Reader in, String source) {
        Object doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(in);
        if (!(doc instanceof Map<?, ?> root) || !(root.get("pools") instanceof Map<?, ?> pools) || root.size() != 1) {
            throw new IllegalArgumentException(source + ": expected one key 'pools' mapping pool names to their settings");
        }
        List<SimulatedPool> out = new ArrayList<>();
        for (Map.Entry<?, ?> e : pools.entrySet()) {
            String name = String.valueOf(e.getKey());
            if (!(e.getValue() instanceof Map<?, ?> settings)) throw new IllegalArgumentException(source + ": pool " + name + ": expected a mapping");
            out.add(pool(name, settings, source + ": pool " + name));
        }
        if (out.isEmpty()) throw new IllegalArgumentException(source + ": no pools");
        return out;
    }

    private static SimulatedPool pool(String name, Map<?, ?> s, String where) {
        for (Object key : s.keySet()) {
            if (!KEYS.contains(String.valueOf(key))) throw new IllegalArgumentException(where + ": unknown setting '" + key + "' (known: " + KEYS + ")");
        }
        String catalog = text(s, "catalog", null, where);
        if (catalog == null) throw new IllegalArgumentException(where + ": set 'catalog' (aws-eu-central-1, azure-westeurope or a CSV file)");
        String region = text(s, "region", BUNDLED_REGIONS.get(catalog), where);
        if (region == null) throw new IllegalArgumentException(where + ": set 'region' (the catalog " + catalog + " is not bundled)");
        String zone = text(s, "zone", region, where);
        String jurisdiction = text(s, "jurisdiction", region.startsWith("eu") || region.contains("europe") ? "EU" : region, where);
        Set<String> types = new LinkedHashSet<>();
        Object listed = s.get("instance-types");
        if (listed instanceof List<?> l) l.forEach(t -> types.add(String.valueOf(t)));
        else if (listed != null) throw new IllegalArgumentException(where + ": instance-types: expected a list");
        String boot = text(s, "boot-delay", "60s-90s", where);
        String[] range = boot.split("-", 2);
        try {
            CloudPoolSpec spec = new CloudPoolSpec(name, jurisdiction, (int) number(s, "min-nodes", 0, where),
                    (int) number(s, "max-nodes", 10, where), number(s, "max-spend-usd-per-hour", Double.POSITIVE_INFINITY, where), types,
                    duration(s, "burst-after", "30s", where), duration(s, "scale-down-after", "60s", where),
                    duration(s, "join-timeout", "5m", where), duration(s, "capacity-error-backoff", "3m", where),
                    (int) number(s, "join-failure-limit", 3, where));
            return new SimulatedPool(spec, catalog, region, zone, !Boolean.FALSE.equals(s.get("spot")),
                    Duration.ofMillis(Amounts.millis(range[0])), Duration.ofMillis(Amounts.millis(range[range.length - 1])));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().startsWith(where) ? e.getMessage() : where + ": " + e.getMessage(), e);
        }
    }

    private static String text(Map<?, ?> s, String key, String otherwise, String where) {
        Object v = s.get(key);
        return v == null ? otherwise : String.valueOf(v);
    }

    private static double number(Map<?, ?> s, String key, double otherwise, String where) {
        Object v = s.get(key);
        if (v == null) return otherwise;
        if (v instanceof Number n) return n.doubleValue();
        throw new IllegalArgumentException(where + ": " + key + ": expected a number, got '" + v + "'");
    }

    private static Duration duration(Map<?, ?> s, String key, String otherwise, String where) {
        return Duration.ofMillis(Amounts.millis(text(s, key, otherwise, where)));
    }
}
