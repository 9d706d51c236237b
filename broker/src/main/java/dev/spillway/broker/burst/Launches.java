package dev.spillway.broker.burst;

import dev.spillway.broker.agents.AgentCredentials;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.InstanceStore;
import dev.spillway.broker.store.JoinTokenStore;
import dev.spillway.core.burst.BurstAction;
import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.provider.spi.AgentBootstrap;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.Tags;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jboss.logging.Logger;

/**
 * The launch phase: carries out {@link BurstAction.Launch} actions. Each instance is recorded
 * (REQUESTED, with why and for which jobs) before the provider is called with the record id as
 * idempotency key, so a broker that dies mid-launch repeats the same launch instead of buying a
 * second instance. The outcome is recorded: PROVISIONING, or FAILED with a reason code the next
 * decisions learn from (no capacity: the offering is hidden; setup error: the pool rests).
 */
@ApplicationScoped
public class Launches {

    private static final Logger LOG = Logger.getLogger(Launches.class);
    /** Spot launches bid up to this multiple of the current spot price. */
    static final double SPOT_BID_FACTOR = 1.5;

    private final InstanceStore instances;
    private final AgentCredentials credentials;
    private final BrokerConfig config;
    private final Clock clock;
    private final DatabaseCalls db;
    /** Launches of one tick run side by side on these (a cloud launch takes seconds). */
    private final ExecutorService launcher = Executors.newFixedThreadPool(8, r -> {
        Thread t = new Thread(r, "spillway-launch");
        t.setDaemon(true);
        return t;
    });

    public Launches(InstanceStore instances, AgentCredentials credentials, BrokerConfig config, Clock clock, DatabaseCalls db) {
        this.db = db;
        this.instances = instances;
        this.credentials = credentials;
        this.config = config;
        this.clock = clock;
    }

    void stop(@Observes ShutdownEvent event) {
        launcher.shutdownNow();
    }

    /** Records and launches every instance, side by side; returns once all have been tried. */
    void launchAll(List<BurstAction.Launch> launches, CloudPools pools) {
        List<Future<?>> running = new ArrayList<>();
        for (BurstAction.Launch l : launches) {
            CloudPool pool = pools.get(l.offering().pool());
            UUID id = UUID.randomUUID();
            String nodeName = pool.name() + "-" + id.toString().substring(0, 8);
            TreeSet<String> jobs = new TreeSet<>();
            for (TaskRef t : l.forTasks()) jobs.add(t.jobId());
            LOG.infof("bursting to pool %s: %s", pool.name(), l.reason());
            db.await(instances.insertRequested(new InstanceStore.NewInstance(id, pool.name(), nodeName, l.offering(), jobs, l.expectedTasks(),
                    l.reason())), "recording the launch of " + nodeName);
            running.add(launcher.submit(() -> start(pool, id, nodeName, l.offering().instanceType(), l.offering().shape(), l.offering().region(),
                    l.offering().zone(), l.offering().spot(), l.offering().priceUsdPerHour(), l.reason())));
        }
        for (Future<?> f : running) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (ExecutionException e) {
                LOG.errorf(e.getCause(), "a launch failed unexpectedly; its record stays REQUESTED and is retried");
            }
        }
    }

    /** Repeats the launch of a record still REQUESTED (same idempotency key: no duplicate). */
    void relaunch(CloudPool pool, InstanceStore.InstanceRow row) {
        start(pool, row.id(), row.nodeName(), row.instanceType(), row.shape(), row.region(), row.zone(), row.spot(), row.priceUsdPerHour(),
                "repeating a launch that did not complete");
    }

    /**
     * Launches one instance. Its join token fixes what the node is (its pool, the cloud labels the
     * scheduler and planner trust, the pool's jurisdiction) and the instance type's shape as its
     * capacity ceiling, so its agent declares none of it: a machine holding the token or, later,
     * the node credential cannot claim another pool, jurisdiction or size.
     */
    private void start(CloudPool pool, UUID id, String nodeName, String type, Resources shape, String region, String zone, boolean spot,
                       double price, String why) {
        Map<String, String> labels = new TreeMap<>(Map.of(
                Scorers.CLOUD_LABEL, "true",
                TaskShape.SPOT_LABEL, Boolean.toString(spot),
                Offering.INSTANCE_TYPE_LABEL, type,
                Offering.ZONE_LABEL, zone));
        if (pool.jurisdiction() != null && !pool.jurisdiction().isBlank()) labels.put(TaskShape.JURISDICTION_LABEL, pool.jurisdiction());
        try {
            var token = db.await(credentials.mintJoinToken(new JoinTokenStore.Grant(nodeName, pool.name(), labels, shape, false),
                    pool.settings().joinTimeout()), "minting the join token of " + nodeName);
            String broker = config.advertisedAddress().orElse(BrokerAddress.local());
            failpoint("burst.before-launch");
            Instance launched = pool.provider().launch(new LaunchRequest(id.toString(), type, region, zone, spot,
                    spot ? price * SPOT_BID_FACTOR : 0,
                    Map.of(Tags.CLUSTER, config.cluster(), Tags.POOL, pool.name(), Tags.REQUEST, id.toString()),
                    new AgentBootstrap(broker, token.token(), nodeName, pool.name(), Map.of())));
            failpoint("burst.after-launch");
            Instant at = launched.launchTime() != null ? launched.launchTime() : clock.instant();
            db.await(instances.transition(id, InstanceState.PROVISIONING, ReasonCode.LAUNCHED, why, launched.id(), at), "recording the launch of " + nodeName);
        } catch (CapacityException e) {
            String offering = Offering.id(pool.name(), zone, type, spot);
            if (e.offeringUnavailable()) {
                LOG.warnf("pool %s: %s (%s); hiding %s for %s and falling back", pool.name(), e.kind(), e.getMessage(), offering,
                        pool.settings().capacityErrorBackoff());
                db.await(instances.transition(id, InstanceState.FAILED, ReasonCode.NO_CAPACITY, e.kind() + ": " + e.getMessage(), null,
                        clock.instant()), "recording the failed launch of " + nodeName);
            } else if (e.kind() == CapacityException.Kind.UNAUTHORIZED || e.kind() == CapacityException.Kind.INVALID_CONFIGURATION) {
                // Retrying cannot help until someone fixes the credentials or the pool's settings: the pool rests.
                LOG.errorf("pool %s: %s; the pool rests before launching again", pool.name(), e.getMessage());
                db.await(instances.transition(id, InstanceState.FAILED, ReasonCode.SETUP_ERROR, e.getMessage(), null, clock.instant()),
                        "recording the failed launch of " + nodeName);
            } else {
                // Unavailable or throttled: the record stays REQUESTED; reconciliation repeats it with the same key.
                LOG.warnf("pool %s: launch of %s failed (%s: %s); retrying later", pool.name(), nodeName, e.kind(), e.getMessage());
            }
        }
    }

    /** Crash-recovery testing: halt here, as kill -9 would, when configured to (see BrokerConfig#failpoint). */
    private void failpoint(String name) {
        if (config.failpoint().filter(name::equals).isPresent()) {
            LOG.warnf("failpoint %s: halting the broker", name);
            Runtime.getRuntime().halt(137);
        }
    }
}
