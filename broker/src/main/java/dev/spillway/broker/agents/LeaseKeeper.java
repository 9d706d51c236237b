package dev.spillway.broker.agents;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.leader.Leadership;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.broker.store.TaskStore;
import dev.spillway.core.lifecycle.Leases;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jboss.logging.Logger;

/**
 * Declares nodes lost when they stay silent past their lease, and re-queues their tasks. Silence
 * is measured on the monotonic {@link Ticker} ({@link Leases} decides); the wall clock only stamps
 * what is stored. After the broker starts, the nodes the database lists as connected get a start
 * grace to reconnect (one lease plus an allowance per node, capped), during which none is lost.
 */
@ApplicationScoped
public class LeaseKeeper {

    private static final Logger LOG = Logger.getLogger(LeaseKeeper.class);

    private final AgentSessions sessions;
    private final NodeStore nodes;
    private final TaskStore tasks;
    private final SchedulerWakeup scheduler;
    private final Duration lease;
    private final Duration gracePerNode;
    private final Duration graceMax;
    private final Clock clock;
    private final Ticker ticker;
    private final DatabaseCalls db;
    private final AtomicReference<Start> start = new AtomicReference<>();
    private final Leadership leadership;
    private ScheduledExecutorService timer;
    private int ticks;

    public LeaseKeeper(AgentSessions sessions, NodeStore nodes, TaskStore tasks, SchedulerWakeup scheduler, BrokerConfig config, Clock clock,
                       Ticker ticker, DatabaseCalls db, Leadership leadership) {
        this.leadership = leadership;
        this.db = db;
        this.clock = clock;
        this.ticker = ticker;
        this.sessions = sessions;
        this.nodes = nodes;
        this.tasks = tasks;
        this.scheduler = scheduler;
        this.lease = positive("spillway.agents.lease", config.agents().lease());
        this.gracePerNode = notNegative("spillway.agents.start-grace-per-node", config.agents().startGracePerNode());
        this.graceMax = notNegative("spillway.agents.start-grace-max", config.agents().startGraceMax());
        startGrace();
    }

    private static Duration positive(String name, Duration d) {
        if (d.isZero() || d.isNegative()) throw new IllegalArgumentException(name + " must be positive (got " + d + ")");
        return d;
    }

    private static Duration notNegative(String name, Duration d) {
        if (d.isNegative()) throw new IllegalArgumentException(name + " must not be negative (got " + d + ")");
        return d;
    }

    void start(@Observes StartupEvent event) {
        startGrace();
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

    /**
     * Begins a start grace from now, as at the broker's start: until the next check has counted the
     * nodes the database lists as connected, and then for the grace that count gives, no node is
     * declared lost. (The broker calls it once; a test calls it again to act out a restart.)
     */
    void startGrace() {
        start.set(new Start(ticker.nanos(), null, leadership.term()));
    }

    /** A start on the monotonic clock, its grace once the known nodes were counted (null until then), and the term it began in. */
    private record Start(long nanos, Duration grace, long term) {
    }

    private void tick() {
        long term = leadership.term();
        if (term == 0) return; // the leader keeps the node leases
        try {
            Start begun = start.get();
            if (begun.term() != term) {
                // A broker that takes over leads nodes it has not heard yet: they get the start grace to reconnect to it.
                start.compareAndSet(begun, new Start(ticker.nanos(), null, term));
                return;
            }
            List<String> believedConnected = db.await(nodes.connectedNames(), "reading the connected nodes");
            if (begun.grace() == null) {
                Duration grace = Leases.startGrace(lease, believedConnected.size(), gracePerNode, graceMax);
                Start counted = new Start(begun.nanos(), grace, begun.term());
                if (!start.compareAndSet(begun, counted)) return; // begun again meanwhile: count again next time
                begun = counted;
                LOG.infof("leases: %d s; %d node(s) known as connected get a start grace of %d s to reconnect (lease + %d ms per node,"
                                + " at most %d s) before any is declared lost", lease.toSeconds(), believedConnected.size(), grace.toSeconds(),
                        gracePerNode.toMillis(), graceMax.toSeconds());
            }
            Leases.Snapshot snapshot = new Leases.Snapshot(believedConnected, sessions.lastHeard(), sessions.admitting(), begun.nanos(),
                    begun.grace(), lease, ticker.nanos());
            for (Leases.Lost lost : Leases.lost(snapshot)) declareLost(lost, snapshot.nowNanos());
            if (++ticks % 5 == 0) db.await(nodes.touch(sessions.lastSeenTimes()), "recording when nodes were last seen");
        } catch (RuntimeException e) {
            LOG.errorf(e, "lease check failed; trying again");
        }
    }

    private void declareLost(Leases.Lost lost, long decidedNanos) {
        String node = lost.node();
        // Re-check against what was heard since the snapshot: a node that spoke or began registering meanwhile stays.
        Duration silence = sessions.silence(node);
        if ((silence != null && silence.compareTo(lease) <= 0) || sessions.admitting().contains(node)) return;
        AgentSession s = sessions.get(node);
        if (s != null) s.close(AgentLink.CloseReason.LEASE_EXPIRED, "no report within the lease of " + lease);
        List<TaskStore.Requeued> requeued = db.await(tasks.nodeLost(node, clock.instant()), "re-queueing the tasks of lost node " + node);
        sessions.forget(node, decidedNanos);
        LOG.warnf("node %s silent for %d s (lease %d s; last heard %s): declared lost, %d task(s) re-queued or ended", node,
                lost.silence().toSeconds(), lease.toSeconds(), lost.lastHeardAt() == null ? "not since the broker started" : "at " + lost.lastHeardAt(),
                requeued.size());
        scheduler.wake();
    }
}
