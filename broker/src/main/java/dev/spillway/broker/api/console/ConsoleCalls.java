package dev.spillway.broker.api.console;

import dev.spillway.broker.tls.BrokerTransport;
import dev.spillway.client.Backoff;
import dev.spillway.client.SpillwayClient;
import io.grpc.ManagedChannel;
import io.quarkus.runtime.ShutdownEvent;
import io.vertx.core.net.SocketAddress;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * How the console reads and acts: through this broker's own public gRPC API, as the signed-in
 * caller, with the Java client. Every page is therefore exactly what that caller could get from
 * the API (same authentication, roles, tenant isolation, validation and errors), and on a
 * follower the calls that need the leader are passed on to it as any client's are.
 *
 * <p>The connection goes to the address and port the console's own requests arrive on (learnt
 * from the first one), under the broker's TLS when it has it.
 */
@ApplicationScoped
public class ConsoleCalls {

    private final BrokerTransport transport;
    private volatile String address;
    private volatile ManagedChannel channel;
    private volatile SpillwayClient client;

    public ConsoleCalls(BrokerTransport transport) {
        this.transport = transport;
    }

    /** Notes where this broker answers, from a console request's local address. */
    void learnAddress(SocketAddress local) {
        if (address != null || local == null) return;
        String host = local.hostAddress();
        address = (host.contains(":") ? "[" + host + "]" : host) + ":" + local.port();
    }

    /** The client calling as the holder of {@code credential}. */
    SpillwayClient as(String credential) {
        return base().withToken(credential);
    }

    private SpillwayClient base() {
        SpillwayClient c = client;
        if (c != null) return c;
        synchronized (this) {
            if (client == null) {
                if (address == null) throw new IllegalStateException("no console request has arrived yet");
                channel = dev.spillway.broker.api.BrokerChannels.to(transport, address).maxInboundMessageSize(16 * 1024 * 1024).build();
                // A page waits a few seconds at most: one quick retry (a leader change), then the page says what failed.
                client = SpillwayClient.builder().channel(channel).deadline(Duration.ofSeconds(10))
                        .retries(new Backoff(2, Duration.ofMillis(200), Duration.ofMillis(400))).build();
            }
            return client;
        }
    }

    void close(@Observes ShutdownEvent event) throws InterruptedException {
        ManagedChannel c = channel;
        if (c != null) c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
