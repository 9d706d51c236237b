package dev.spillway.broker.burst;

import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Drain;
import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.InstanceStore;
import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.provider.spi.CapacityException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import org.jboss.logging.Logger;

/**
 * The join-watch and scale-down phases: carries out MarkJoined, Drain and Terminate. A drained
 * instance's node is cordoned (the scheduler gives it no new work) until it holds nothing; only
 * then is it terminated, its agent told to drain first so it leaves cleanly.
 */
@ApplicationScoped
public class InstanceLifecycle {

    private static final Logger LOG = Logger.getLogger(InstanceLifecycle.class);

    private final InstanceStore instances;
    private final AgentSessions sessions;
    private final SchedulingLoop scheduling;
    private final Clock clock;
    private final DatabaseCalls db;

    public InstanceLifecycle(InstanceStore instances, AgentSessions sessions, SchedulingLoop scheduling, Clock clock, DatabaseCalls db) {
        this.db = db;
        this.instances = instances;
        this.sessions = sessions;
        this.scheduling = scheduling;
        this.clock = clock;
    }

    void joined(InstanceStore.InstanceRow row) {
        if (db.await(instances.transition(row.id(), InstanceState.JOINED, ReasonCode.JOINED, "agent registered", null, clock.instant()),
                "recording that " + row.nodeName() + " joined")) {
            LOG.infof("instance %s joined pool %s (%s, %.4f USD/h)", row.nodeName(), row.pool(), row.instanceType(), row.priceUsdPerHour());
        }
    }

    void drain(InstanceStore.InstanceRow row, ReasonCode code, String why) {
        sessions.cordon(row.nodeName());
        if (db.await(instances.transition(row.id(), InstanceState.DRAINING, code, why, null, clock.instant()), "recording the drain of " + row.nodeName())) {
            LOG.infof("pool %s: draining %s (%s): no new work; terminated once it holds none", row.pool(), row.nodeName(), why);
        }
    }

    /** Terminates the instance (its agent told to drain first) and closes its record in {@code to}. */
    void terminate(CloudPool pool, InstanceStore.InstanceRow row, InstanceState to, ReasonCode code, String reason) {
        // A drained instance keeps saying why it was drained (idle, making room), now with its end.
        String why = row.state() == InstanceState.DRAINING && code == ReasonCode.DRAINED ? row.reason() + "; terminated once drained" : reason;
        sessions.send(row.nodeName(), ConnectResponse.newBuilder().setDrain(Drain.newBuilder().setReason(why)).build());
        terminateQuietly(pool, row.providerInstance());
        if (db.await(instances.transition(row.id(), to, code, why, null, clock.instant()), "recording the end of " + row.nodeName())) {
            LOG.infof("pool %s: %s %s (%s): %s", row.pool(), to == InstanceState.FAILED ? "failed" : "terminated", row.nodeName(),
                    row.instanceType(), why);
        }
        sessions.uncordon(row.nodeName());
        scheduling.wake();
    }

    /** Terminates a provider instance; a failure is logged and left to reconciliation (it is then an orphan). */
    static void terminateQuietly(CloudPool pool, String providerInstance) {
        if (providerInstance == null) return;
        try {
            pool.provider().terminate(providerInstance);
        } catch (CapacityException | RuntimeException e) {
            LOG.warnf("pool %s: terminating %s failed (%s); reconciliation will retry", pool.name(), providerInstance, e.getMessage());
        }
    }
}
