package dev.spillway.policies.document;

import java.util.List;

/**
 * {@code kind: EgressPrices}: what moving data between two locations costs, USD per GB (10^9 bytes).
 * Entries override the bundled defaults; {@code *} as {@code from} or {@code to} matches any location.
 */
public record EgressPricesDoc(String name, Location at, List<Price> prices) implements Document {

    public record Price(String from, String to, double usdPerGb) {
    }

    public EgressPricesDoc {
        prices = List.copyOf(prices);
    }

    @Override
    public String kind() {
        return "EgressPrices";
    }
}
