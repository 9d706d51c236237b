package dev.spillway.provider.azure;

import com.azure.json.JsonProviders;
import com.azure.json.JsonReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Linux virtual machine prices in the shape of the public Azure Retail Prices API
 * ({@code https://prices.azure.com/api/retail/prices}): the bundled snapshot of a region, or the
 * live API (every page, following {@code NextPageLink}). Windows and Low Priority meters are left
 * out; {@code Spot} meters give spot prices; the cheapest meter of a size wins.
 */
public final class RetailPrices {

    /** On-demand and spot price of one VM size, USD per hour; NaN when there is none. */
    public record Price(double onDemand, double spot) {
    }

    private RetailPrices() {}

    /** The bundled snapshot for {@code region}, if there is one. */
    public static Map<String, Price> bundled(String region) {
        try (InputStream in = RetailPrices.class.getResourceAsStream("prices/" + region + ".json")) {
            if (in == null) throw new IllegalArgumentException("no bundled Azure price snapshot for region " + region + "; set live-prices=true");
            return parse(List.of(read(in.readAllBytes())));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads the live API at {@code endpoint} (normally {@code https://prices.azure.com/api/retail/prices}) for {@code region}. */
    public static Map<String, Price> live(URI endpoint, String region, HttpClient http) throws IOException, InterruptedException {
        String filter = "serviceName eq 'Virtual Machines' and armRegionName eq '" + region + "' and priceType eq 'Consumption'";
        URI next = URI.create(endpoint + "?api-version=2023-01-01-preview&$filter=" + URLEncoder.encode(filter, StandardCharsets.UTF_8)
                .replace("+", "%20"));
        java.util.ArrayList<Map<String, Object>> pages = new java.util.ArrayList<>();
        for (int page = 0; next != null && page < 200; page++) {
            HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(next).timeout(Duration.ofSeconds(30)).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200) throw new IOException("retail prices API: HTTP " + response.statusCode() + " for " + next);
            Map<String, Object> body = read(response.body());
            pages.add(body);
            Object link = body.get("NextPageLink");
            next = link instanceof String s && !s.isBlank() ? URI.create(s) : null;
        }
        return parse(pages);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> read(byte[] json) throws IOException {
        try (JsonReader reader = JsonProviders.createReader(json)) {
            return (Map<String, Object>) reader.readUntyped();
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Price> parse(List<Map<String, Object>> pages) {
        Map<String, double[]> best = new HashMap<>();
        for (Map<String, Object> page : pages) {
            for (Object o : (List<Object>) page.getOrDefault("Items", List.of())) {
                Map<String, Object> item = (Map<String, Object>) o;
                String sku = (String) item.get("armSkuName");
                String meter = String.valueOf(item.getOrDefault("meterName", ""));
                String product = String.valueOf(item.getOrDefault("productName", ""));
                if (sku == null || sku.isBlank() || product.contains("Windows") || meter.contains("Low Priority")) continue;
                if (!"USD".equals(item.get("currencyCode")) || !"1 Hour".equals(item.get("unitOfMeasure"))) continue;
                if (!"Consumption".equals(item.getOrDefault("type", "Consumption"))) continue;
                double price = ((Number) item.get("retailPrice")).doubleValue();
                if (price <= 0) continue;
                int slot = meter.toLowerCase(Locale.ROOT).endsWith("spot") ? 1 : 0;
                double[] prices = best.computeIfAbsent(sku, k -> new double[] {Double.NaN, Double.NaN});
                if (Double.isNaN(prices[slot]) || price < prices[slot]) prices[slot] = price;
            }
        }
        Map<String, Price> out = new HashMap<>();
        best.forEach((sku, p) -> out.put(sku, new Price(p[0], p[1])));
        return out;
    }
}
