package dev.spillway.broker.burst;

import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.InstanceStore;
import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.burst.Reconciliation;
import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.Tags;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jboss.logging.Logger;

/**
 * The reconcile phase: what the providers list under the cluster tag against the live records,
 * decided by {@link Reconciliation} and carried out here. Providers are listed before the records
 * are read, so an instance listed always had its record written first.
 */
@ApplicationScoped
public class Reconciler {

    private static final Logger LOG = Logger.getLogger(Reconciler.class);

    private final InstanceStore instances;
    private final Launches launches;
    private final AgentSessions sessions;
    private final SchedulingLoop scheduling;
    private final BrokerConfig config;
    private final Clock clock;
    private final DatabaseCalls db;

    public Reconciler(InstanceStore instances, Launches launches, AgentSessions sessions, SchedulingLoop scheduling, BrokerConfig config,
                      Clock clock, DatabaseCalls db) {
        this.db = db;
        this.instances = instances;
        this.launches = launches;
        this.sessions = sessions;
        this.scheduling = scheduling;
        this.config = config;
        this.clock = clock;
    }

    void reconcile(CloudPools pools) {
        Map<String, List<Reconciliation.Listed>> listings = new HashMap<>();
        for (CloudPool pool : pools.all().values()) {
            try {
                List<Reconciliation.Listed> listed = new ArrayList<>();
                for (Instance i : pool.provider().list(config.cluster())) {
                    listed.add(new Reconciliation.Listed(pool.name(), i.id(), i.tags().get(Tags.REQUEST), i.state() == Instance.State.TERMINATED,
                            i.launchTime()));
                }
                listings.put(pool.name(), listed);
            } catch (CapacityException | RuntimeException e) {
                LOG.warnf("pool %s: cannot list instances (%s); reconciling later", pool.name(), e.getMessage());
            }
        }
        Instant now = clock.instant();
        List<InstanceStore.InstanceRow> live = db.await(instances.live(), "reading the live instances");
        Map<String, InstanceStore.InstanceRow> byId = new HashMap<>();
        List<Reconciliation.Record> records = new ArrayList<>();
        for (InstanceStore.InstanceRow r : live) {
            byId.put(r.id().toString(), r);
            records.add(new Reconciliation.Record(r.id().toString(), r.pool(), r.providerInstance(), r.state(), r.requestedAt(), r.launchedAt()));
        }
        for (Reconciliation.Action a : Reconciliation.decide(records, listings, now)) {
            if (a instanceof Reconciliation.Action.TerminateOrphan o) {
                LOG.warnf("pool %s: instance %s %s: terminating it", o.listedBy(), o.providerInstance(), o.reason());
                InstanceLifecycle.terminateQuietly(pools.get(o.listedBy()), o.providerInstance());
            } else if (a instanceof Reconciliation.Action.Adopt adopt) {
                InstanceStore.InstanceRow r = byId.get(adopt.recordId());
                Instant launched = adopt.launchTime() != null ? adopt.launchTime() : now;
                if (db.await(instances.transition(UUID.fromString(adopt.recordId()), InstanceState.PROVISIONING, ReasonCode.ADOPTED,
                        "launched before a broker restart; adopted", adopt.providerInstance(), launched), "adopting " + r.nodeName())) {
                    LOG.infof("pool %s: adopted instance %s (%s) launched at %s before a restart", r.pool(), adopt.providerInstance(),
                            r.nodeName(), launched);
                }
            } else if (a instanceof Reconciliation.Action.Relaunch re) {
                InstanceStore.InstanceRow r = byId.get(re.recordId());
                CloudPool pool = pools.get(r.pool());
                if (pool != null) launches.relaunch(pool, r);
            } else if (a instanceof Reconciliation.Action.Close c) {
                InstanceStore.InstanceRow r = byId.get(c.recordId());
                if (db.await(instances.transition(r.id(), InstanceState.TERMINATED, ReasonCode.VANISHED, c.reason(), null, now), "closing " + r.nodeName())) {
                    LOG.infof("instance %s (%s) closed: %s", r.nodeName(), r.instanceType(), c.reason());
                    sessions.uncordon(r.nodeName());
                    scheduling.wake();
                }
            }
        }
    }
}
