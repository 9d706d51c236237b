package dev.spillway.provider.spi;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A price catalog: CSV rows {@code instance_type,vcpu,memory_gib,gpus,on_demand_usd_per_hour,spot_usd_per_hour}
 * after {@code #} comments naming the source and date. Bundled ones: {@code aws-eu-central-1},
 * {@code azure-westeurope}; anything else is read as a file path.
 */
public final class Catalog {

    private Catalog() {}

    /** Every row as an on-demand offering and, if it has a spot price, a spot one, in {@code region}/{@code zone}. */
    public static List<InstanceOffering> load(String nameOrPath, String region, String zone) {
        try (InputStream in = open(nameOrPath);
             BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            List<InstanceOffering> out = new ArrayList<>();
            String line;
            int number = 0;
            while ((line = reader.readLine()) != null) {
                number++;
                line = line.trim();
                if (line.isEmpty() || line.startsWith("#") || line.startsWith("instance_type")) continue;
                String[] f = line.split(",");
                if (f.length != 6) throw new IllegalArgumentException(nameOrPath + ":" + number + ": expected 6 columns");
                InstanceShape shape = new InstanceShape(Math.round(Double.parseDouble(f[1]) * 1000), Math.round(Double.parseDouble(f[2]) * 1024),
                        Integer.parseInt(f[3]));
                out.add(new InstanceOffering(f[0], region, zone, shape, false, Double.parseDouble(f[4]), true));
                if (!f[5].isBlank()) out.add(new InstanceOffering(f[0], region, zone, shape, true, Double.parseDouble(f[5]), true));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the catalog " + nameOrPath, e);
        }
    }

    /** Whether a catalog of this name is bundled. */
    public static boolean isBundled(String name) {
        return Catalog.class.getResource("catalog/" + name + ".csv") != null;
    }

    private static InputStream open(String nameOrPath) throws IOException {
        InputStream bundled = Catalog.class.getResourceAsStream("catalog/" + nameOrPath + ".csv");
        if (bundled != null) return bundled;
        Path file = Path.of(nameOrPath);
        if (!Files.exists(file)) throw new IllegalArgumentException("no bundled catalog or file named " + nameOrPath);
        return Files.newInputStream(file);
    }
}
