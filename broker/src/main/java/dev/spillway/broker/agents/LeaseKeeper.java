package dev.spillway.broker.agents;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.broker.store.TaskStore;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Declares nodes lost when they stay silent past their lease, and re-queues their tasks. Nodes the
 * database lists as connected from before a broker restart get one lease from the broker's start
 * to reconnect.
 */
@ApplicationScoped
public class LeaseKeeper {

    private static final Logger LOG = Logger.getLogger(LeaseKeeper.class);

    private final AgentSessions sessions;
    private final NodeStore nodes;
    private final TaskStore tasks;
    private final SchedulerWakeup scheduler;
    private final Duration lease;
    private final Clock clock;
    private final DatabaseCalls db;
    private final Instant started;
    private ScheduledExecutorService timer;
    private int ticks;

    public LeaseKeeper(AgentSessions sessions, NodeStore nodes, TaskStore tasks, SchedulerWakeup scheduler, BrokerConfig config, Clock clock,
                       DatabaseCalls db) {
        this.db = db;
        this.clock = clock;
        this.started = clock.instant();
        this.sessions = sessions;
        this.nodes = nodes;
        this.tasks = tasks;
        this.scheduler = scheduler;
        this.lease = config.agents().lease();
    }

    void start(@Observes StartupEvent event) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-leases");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(200, Math.min(1000, lease.toMillis() / 4));
        timer.scheduleWithFixedDelay(this::tick, period, period, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (timer != null) timer.shutdownNow();
    }

    private void tick() {
        try {
            Instant now = clock.instant();
            List<String> believedConnected = db.await(nodes.connectedNames(), "reading the connected nodes");
            for (String node : believedConnected) {
                Instant seen = sessions.lastSeen(node);
                if (seen == null || seen.isBefore(started)) seen = started;
                if (Duration.between(seen, now).compareTo(lease) <= 0) continue;
                AgentSession s = sessions.get(node);
                if (s != null) s.close(AgentLink.CloseReason.LEASE_EXPIRED, "no report within the lease of " + lease);
                List<TaskStore.Requeued> requeued = db.await(tasks.nodeLost(node, now), "re-queueing the tasks of lost node " + node);
                sessions.forget(node);
                LOG.warnf("node %s silent for %d s (lease %d s): declared lost, %d task(s) re-queued or ended", node,
                        Duration.between(seen, now).toSeconds(), lease.toSeconds(), requeued.size());
                scheduler.wake();
            }
            if (++ticks % 5 == 0) db.await(nodes.touch(sessions.lastSeenTimes()), "recording when nodes were last seen");
        } catch (RuntimeException e) {
            LOG.errorf(e, "lease check failed; trying again");
        }
    }
}
