package dev.spillway.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.SocketException;
import org.junit.jupiter.api.Test;

/** Which failures mean "the database is unavailable" (UNAVAILABLE to a client, who retries) rather than a fault. */
class DatabaseCallsTest {

    @Test
    void aConnectionTheServerEndedIsUnavailableWhereverItIsCarried() {
        assertThat(DatabaseCalls.unavailableBecause(new SocketException("Connection reset"))).contains("SocketException: Connection reset");
        assertThat(DatabaseCalls.unavailableBecause(new IllegalStateException("reading the job", new SocketException("Connection reset"))))
                .as("as a cause").isNotNull();
        RuntimeException carrier = new RuntimeException("Error Occurred After Shutdown");
        carrier.addSuppressed(new java.net.ConnectException("Connection refused"));
        assertThat(DatabaseCalls.unavailableBecause(carrier)).as("beside the failure").contains("ConnectException");
        assertThat(DatabaseCalls.unavailableBecause(new IllegalStateException("a bug"))).isNull();
        RuntimeException loop = new RuntimeException("a");
        RuntimeException other = new RuntimeException("b");
        loop.addSuppressed(other);
        other.addSuppressed(loop);
        assertThat(DatabaseCalls.unavailableBecause(loop)).as("suppressed failures that refer to each other end").isNull();
    }
}
