package dev.spillway.broker.leader;

import dev.spillway.broker.store.LeaderStore;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;

/** Who leads and which brokers share the database, as the database says (any broker answers the same). */
@ApplicationScoped
public class BrokerStatus {

    /** The lease (null before any broker led) and the brokers heard from within three lease lengths. */
    public record Status(String answeredBy, LeaderStore.Lease lease, List<LeaderStore.Peer> brokers) {
    }

    private final LeaderStore store;
    private final Leadership leadership;
    private final java.time.Duration ttl;

    public BrokerStatus(LeaderStore store, Leadership leadership, dev.spillway.broker.config.BrokerConfig config) {
        this.store = store;
        this.leadership = leadership;
        this.ttl = config.leader().ttl();
    }

    public Uni<Status> status() {
        return store.read().flatMap(lease -> store.peers(ttl.multipliedBy(3))
                .map(peers -> new Status(leadership.id(), lease == null || lease.holder() == null ? null : lease, peers)));
    }
}
