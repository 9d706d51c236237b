package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BrokerConnectionTest {

    @Test
    void reconnectsBackOffExponentiallyUpTo10sAndStartOverAfterARegistration() {
        BrokerConnection.Backoff longest = new BrokerConnection.Backoff(bound -> bound - 1);
        List<Long> waits = new ArrayList<>();
        for (int i = 0; i < 8; i++) waits.add(longest.next(false));
        assertThat(waits).containsExactly(500L, 1000L, 2000L, 4000L, 8000L, 10_000L, 10_000L, 10_000L);
        assertThat(longest.next(true)).isEqualTo(250);
        assertThat(longest.next(false)).isEqualTo(500);
    }

    @Test
    void theWaitIsAtLeastHalfTheBackoffSoJitterNeverMakesItTight() {
        BrokerConnection.Backoff shortest = new BrokerConnection.Backoff(bound -> 0);
        List<Long> waits = new ArrayList<>();
        for (int i = 0; i < 7; i++) waits.add(shortest.next(false));
        assertThat(waits).containsExactly(250L, 500L, 1000L, 2000L, 4000L, 5000L, 5000L);
        assertThat(shortest.next(true)).isEqualTo(125);
    }
}
