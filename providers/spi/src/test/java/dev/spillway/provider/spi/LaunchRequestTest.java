package dev.spillway.provider.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LaunchRequestTest {

    @Test
    void aSpotMaxPriceIsRoundedUpToTheCloudsPlacesAndNeverToZero() {
        assertThat(spot(0.00041).spotMaxPrice(5)).contains(new BigDecimal("0.00041"));
        assertThat(spot(0.00041).spotMaxPrice(3)).contains(new BigDecimal("0.001"));
        assertThat(spot(0.00041).spotMaxPrice(4)).contains(new BigDecimal("0.0005"));
        assertThat(spot(1e-9).spotMaxPrice(6)).contains(new BigDecimal("0.000001"));
        assertThat(spot(0.12345678).spotMaxPrice(6)).contains(new BigDecimal("0.123457"));
        assertThat(spot(0.0433 * 1.5).spotMaxPrice(6)).contains(new BigDecimal("0.064950"));
        assertThat(spot(0.1 * 3).spotMaxPrice(5)).contains(new BigDecimal("0.30000"));
    }

    @Test
    void noCapOrOnDemandHasNoSpotMaxPrice() {
        assertThat(spot(0).spotMaxPrice(5)).isEmpty();
        assertThat(spot(-1).spotMaxPrice(5)).isEmpty();
        assertThat(spot(Double.NaN).spotMaxPrice(5)).isEmpty();
        assertThat(spot(Double.POSITIVE_INFINITY).spotMaxPrice(5)).isEmpty();
        assertThat(new LaunchRequest("k", "t", "r", "z", false, 0.5, Map.of(), bootstrap()).spotMaxPrice(5)).isEmpty();
    }

    @Test
    void theRoundedPriceIsNeverBelowTheCapNorAPlaceAboveIt() {
        Random random = new Random(42);
        for (int n = 0; n < 10_000; n++) {
            double cap = Math.pow(10, -7 + 9 * random.nextDouble()); // 1e-7 .. 100 USD/h
            int places = 3 + random.nextInt(4);
            BigDecimal sent = spot(cap).spotMaxPrice(places).orElseThrow();
            assertThat(sent.signum()).as("cap %s at %d places", cap, places).isPositive();
            assertThat(sent.doubleValue()).as("cap %s at %d places", cap, places).isGreaterThanOrEqualTo(cap * (1 - 1e-11));
            assertThat(sent.subtract(new BigDecimal(cap)).doubleValue()).isLessThanOrEqualTo(Math.pow(10, -places));
        }
    }

    private static LaunchRequest spot(double cap) {
        return new LaunchRequest("k", "t", "r", "z", true, cap, Map.of(), bootstrap());
    }

    private static AgentBootstrap bootstrap() {
        return new AgentBootstrap("127.0.0.1:1", "token", "n", "p", Map.of());
    }
}
