package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class BrokerConnectionTest {

    private static final long NEVER = -1;

    @Test
    void reconnectsBackOffExponentiallyUpTo10sAndStartOverAfterAConnectionThatLasted() {
        BrokerConnection.Backoff longest = new BrokerConnection.Backoff(bound -> bound - 1);
        List<Long> waits = new ArrayList<>();
        for (int i = 0; i < 8; i++) waits.add(longest.next(NEVER));
        assertThat(waits).containsExactly(500L, 1000L, 2000L, 4000L, 8000L, 10_000L, 10_000L, 10_000L);
        assertThat(longest.next(30_000)).isEqualTo(250);
        assertThat(longest.next(NEVER)).isEqualTo(500);
    }

    /** A broker that accepts a registration and drops the stream at once must not get a tight reconnect loop. */
    @Test
    void aConnectionDroppedSoonAfterRegisteringKeepsDoubling() {
        BrokerConnection.Backoff longest = new BrokerConnection.Backoff(bound -> bound - 1);
        List<Long> waits = new ArrayList<>();
        for (int i = 0; i < 7; i++) waits.add(longest.next(i % 2 == 0 ? 5 : NEVER));
        assertThat(waits).containsExactly(500L, 1000L, 2000L, 4000L, 8000L, 10_000L, 10_000L);
        assertThat(longest.next(29_999)).isEqualTo(10_000);
        assertThat(longest.next(45_000)).isEqualTo(250);
    }

    @Test
    void theWaitIsAtLeastHalfTheBackoffSoJitterNeverMakesItTight() {
        BrokerConnection.Backoff shortest = new BrokerConnection.Backoff(bound -> 0);
        List<Long> waits = new ArrayList<>();
        for (int i = 0; i < 7; i++) waits.add(shortest.next(NEVER));
        assertThat(waits).containsExactly(250L, 500L, 1000L, 2000L, 4000L, 5000L, 5000L);
        assertThat(shortest.next(60_000)).isEqualTo(125);
    }

    /** Whatever the history, a wait is jittered within [backoff/2, backoff], never under 125 ms nor over 10 s. */
    @Property(tries = 300)
    void waitsStayWithinBoundsWithJitter(@ForAll @Size(max = 30) List<@LongRange(min = -1, max = 120_000) Long> lasted,
                                         @ForAll long seed) {
        java.util.Random random = new java.util.Random(seed);
        BrokerConnection.Backoff backoff = new BrokerConnection.Backoff(bound -> (long) (random.nextDouble() * bound));
        long previousCeiling = BrokerConnection.Backoff.FIRST_MILLIS;
        for (long registeredMillis : lasted) {
            long wait = backoff.next(registeredMillis);
            long ceiling = registeredMillis >= BrokerConnection.Backoff.STABLE_MILLIS ? BrokerConnection.Backoff.FIRST_MILLIS
                    : Math.min(previousCeiling * 2, BrokerConnection.Backoff.CAP_MILLIS);
            assertThat(wait).isBetween(ceiling / 2, ceiling);
            previousCeiling = ceiling;
        }
    }
}
