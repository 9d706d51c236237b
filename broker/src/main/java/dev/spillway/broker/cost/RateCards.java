package dev.spillway.broker.cost;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.core.cost.Ledger;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * On-prem prices by pool: a pool's own {@code spillway.pools.NAME.rate-card.*}, each unset rate
 * taken from {@code spillway.cost.rate-card.*}, and 0 when neither sets it. Cloud pools have no
 * rate card: their instances are priced as bought.
 */
final class RateCards {

    private final Map<String, Ledger.Rates> byPool;
    private final Ledger.Rates fallback;

    private RateCards(Map<String, Ledger.Rates> byPool, Ledger.Rates fallback) {
        this.byPool = byPool;
        this.fallback = fallback;
    }

    static RateCards of(BrokerConfig config) {
        BrokerConfig.RateCard d = config.cost().rateCard();
        Ledger.Rates fallback = new Ledger.Rates(d.usdPerCpuHour().orElse(0.0), d.usdPerGibHour().orElse(0.0), d.usdPerGpuHour().orElse(0.0));
        Map<String, Ledger.Rates> byPool = new HashMap<>();
        config.pools().forEach((name, pool) -> {
            if (!pool.kind().equals("on-prem")) {
                byPool.put(name, null);
                return;
            }
            BrokerConfig.RateCard r = pool.rateCard();
            byPool.put(name, new Ledger.Rates(or(r.usdPerCpuHour(), fallback.usdPerCpuHour()), or(r.usdPerGibHour(), fallback.usdPerGibHour()),
                    or(r.usdPerGpuHour(), fallback.usdPerGpuHour())));
        });
        return new RateCards(byPool, fallback);
    }

    /** The on-prem pools the broker knows of by configuration, and {@code ""} for any other (priced by the default card). */
    java.util.Set<String> onPremPools() {
        java.util.Set<String> out = new java.util.TreeSet<>();
        byPool.forEach((pool, rates) -> {
            if (rates != null) out.add(pool);
        });
        out.add("");
        return out;
    }

    /** The pool's rates; null for a cloud pool. */
    Ledger.Rates of(String pool) {
        return byPool.containsKey(pool) ? byPool.get(pool) : fallback;
    }

    private static double or(Optional<Double> own, double fallback) {
        return own.orElse(fallback);
    }
}
