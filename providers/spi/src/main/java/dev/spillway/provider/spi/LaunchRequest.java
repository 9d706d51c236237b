package dev.spillway.provider.spi;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Map;
import java.util.Optional;

/**
 * One instance to launch.
 *
 * @param idempotencyKey         unique per intended instance; retries reuse it (EC2 ClientToken, Azure VM name)
 * @param maxPriceUsdPerHour     for spot: the most to pay, USD per hour; 0 (or less) for no cap of our own, which leaves the
 *                               cloud's default (up to the on-demand price); ignored on demand
 * @param tags                   at least {@link Tags#CLUSTER}, {@link Tags#POOL} and {@link Tags#REQUEST}
 */
public record LaunchRequest(String idempotencyKey, String instanceType, String region, String zone, boolean spot,
                            double maxPriceUsdPerHour, Map<String, String> tags, AgentBootstrap bootstrap) {

    public LaunchRequest {
        tags = Map.copyOf(tags);
    }

    /**
     * The spot max price as a cloud that takes {@code decimals} decimal places should get it:
     * rounded up, never down, so it is never below what the broker agreed to pay and never 0
     * (0.00041 stays 0.00041 with 5 places, and becomes 0.001 with 3). Binary noise is dropped
     * first ({@code 0.0433 * 1.5} is 0.06495, not 0.064951). Empty for on-demand launches and
     * when there is no cap ({@code maxPriceUsdPerHour} not a positive finite number).
     */
    public Optional<BigDecimal> spotMaxPrice(int decimals) {
        if (!spot || !(maxPriceUsdPerHour > 0) || Double.isInfinite(maxPriceUsdPerHour)) return Optional.empty();
        // 12 significant digits: far below a cent of a cent, far above a double's noise, and never 0 for a positive price.
        BigDecimal price = new BigDecimal(maxPriceUsdPerHour).round(new MathContext(12, RoundingMode.HALF_EVEN));
        return Optional.of(price.setScale(decimals, RoundingMode.UP));
    }
}
