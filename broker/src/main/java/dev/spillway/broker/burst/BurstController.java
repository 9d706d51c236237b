package dev.spillway.broker.burst;

import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.leader.Leadership;
import dev.spillway.broker.policy.Policies;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.InstanceStore;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.core.burst.BurstAction;
import dev.spillway.core.burst.BurstDecision;
import dev.spillway.core.burst.BurstSnapshot;
import dev.spillway.core.burst.CloudPoolSpec;
import dev.spillway.core.burst.Demand;
import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.burst.InstanceView;
import dev.spillway.core.burst.LaunchOutcome;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.burst.WaitingTask;
import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.policies.quota.CycleQuota;
import dev.spillway.policies.rules.JobFacts;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.rules.PoolFacts;
import dev.spillway.policies.rules.TenantFacts;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The shell around the burst decision. Each tick, on its own thread, it gathers a
 * {@link BurstSnapshot} (live instance records joined with what it observes of their nodes, the
 * scheduler's waiting tasks, the pools' offerings and recent launch outcomes), asks the pure
 * {@link BurstDecision} what to do, and carries the actions out, one phase each:
 * {@link InstanceLifecycle} (join watch, drain, terminate) and {@link Launches}. Every
 * {@link #RECONCILE_EVERY} the {@link Reconciler} compares what the providers list with the records.
 */
@ApplicationScoped
public class BurstController {

    private static final Logger LOG = Logger.getLogger(BurstController.class);
    private static final Duration RECONCILE_EVERY = Duration.ofSeconds(10);
    /** How far back launch outcomes are read: longer than any hold they cause. */
    private static final Duration HISTORY = Duration.ofHours(6);

    private final CloudPools pools;
    private final InstanceStore instances;
    private final NodeStore nodes;
    private final SchedulingLoop scheduling;
    private final AgentSessions sessions;
    private final BurstStatus status;
    private final Launches launches;
    private final InstanceLifecycle lifecycle;
    private final Reconciler reconciler;
    private final BrokerConfig config;
    private final Clock clock;
    private final DatabaseCalls db;
    private final Policies policies;
    private final JobCatalog jobs;
    private final SpendCaps budgets;
    private final BurstDecision decision = new BurstDecision();
    /** Since when each joined node has held no task (in memory: a restart only makes scale-down later). */
    private final Map<String, Instant> idleSince = new ConcurrentHashMap<>();
    private ScheduledExecutorService timer;
    private volatile boolean stopped;
    private Instant lastReconcile = Instant.EPOCH;
    private final Leadership leadership;

    public BurstController(CloudPools pools, InstanceStore instances, NodeStore nodes, SchedulingLoop scheduling, AgentSessions sessions,
                           BurstStatus status, Launches launches, InstanceLifecycle lifecycle, Reconciler reconciler, BrokerConfig config,
                           Clock clock, DatabaseCalls db, Policies policies, JobCatalog jobs, SpendCaps budgets, Leadership leadership) {
        this.leadership = leadership;
        this.budgets = budgets;
        this.db = db;
        this.policies = policies;
        this.jobs = jobs;
        this.pools = pools;
        this.instances = instances;
        this.nodes = nodes;
        this.scheduling = scheduling;
        this.sessions = sessions;
        this.status = status;
        this.launches = launches;
        this.lifecycle = lifecycle;
        this.reconciler = reconciler;
        this.config = config;
        this.clock = clock;
    }

    void start(@Observes StartupEvent event) {
        if (pools.all().isEmpty()) return;
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-burst");
            t.setDaemon(true);
            return t;
        });
        long period = config.burstInterval().toMillis();
        timer.scheduleWithFixedDelay(this::tick, period, period, TimeUnit.MILLISECONDS);
        LOG.infof("burst controller on for cloud pools %s", pools.all().keySet());
    }

    void stop(@Observes ShutdownEvent event) {
        stopBursting();
    }

    /** No further ticks; waits for a running one to finish. */
    public synchronized void stopBursting() {
        stopped = true;
        if (timer == null) return;
        timer.shutdown();
        try {
            if (!timer.awaitTermination(60, TimeUnit.SECONDS)) timer.shutdownNow();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops bursting and terminates every live instance, recording each end (and so its cost).
     * For local setups going down: no record is left open without an end.
     *
     * @return how many instances it terminated
     */
    public int windDown(String why) {
        stopBursting();
        int n = 0;
        for (InstanceStore.InstanceRow row : db.await(instances.live(), "reading the live instances")) {
            CloudPool pool = pools.get(row.pool());
            if (pool == null) continue;
            lifecycle.terminate(pool, row, InstanceState.TERMINATED, ReasonCode.SHUTDOWN, why);
            n++;
        }
        return n;
    }

    private void tick() {
        if (stopped) return;
        try {
            Instant now = clock.instant();
            // Every broker keeps the offerings fresh: admission quotes cloud capacity on whichever broker takes a job.
            for (CloudPool pool : pools.all().values()) pool.refreshIfOlderThan(pool.settings().offeringsRefresh(), now);
            if (!leadership.isLeader()) return; // the leader bursts
            if (Duration.between(lastReconcile, now).compareTo(RECONCILE_EVERY) >= 0) {
                lastReconcile = now;
                reconciler.reconcile(pools);
            }
            List<InstanceStore.InstanceRow> live = db.await(instances.live(), "reading the live instances");
            if (waitForScheduler(live, now)) return;
            BurstDecision.Result result = decision.decide(snapshot(live, now));
            apply(result, live);
            status.publish(result);
        } catch (RuntimeException e) {
            LOG.errorf(e, "burst controller tick failed; trying again");
        }
    }

    /**
     * Whether to let the scheduler place first: an instance's agent connected (joined, or joining) and
     * the scheduler's last cycle did not see its node yet, so the tasks it was bought for still count as waiting and would be bought
     * for again. At most {@link #SCHEDULER_WAIT} in a row (a scheduler that cannot run does not stop
     * bursting and scale-down for good).
     */
    private boolean waitForScheduler(List<InstanceStore.InstanceRow> live, Instant now) {
        Set<String> seen = scheduling.lastCycleNodes();
        // Its agent's session is the join: the instance's row may still say PROVISIONING when it was read just before the
        // join was recorded, and its node would then count twice (as capacity on the way, and as a free node).
        boolean unseen = live.stream().anyMatch(r -> r.state() != InstanceState.DRAINING && !seen.contains(r.nodeName())
                && sessions.get(r.nodeName()) != null);
        if (!unseen) {
            waitingForSchedulerSince = null;
            return false;
        }
        if (waitingForSchedulerSince == null) waitingForSchedulerSince = now;
        if (Duration.between(waitingForSchedulerSince, now).compareTo(SCHEDULER_WAIT) >= 0) return false;
        scheduling.wake();
        return true;
    }

    static final Duration SCHEDULER_WAIT = Duration.ofSeconds(10);
    private Instant waitingForSchedulerSince;

    private BurstSnapshot snapshot(List<InstanceStore.InstanceRow> live, Instant now) {
        Map<String, NodeStore.Allocation> busy = db.await(nodes.allocations(), "reading node allocations");
        List<InstanceView> views = new ArrayList<>();
        for (InstanceStore.InstanceRow r : live) {
            if (!pools.all().containsKey(r.pool())) continue;
            if (r.state() == InstanceState.DRAINING) sessions.cordon(r.nodeName()); // survives a broker restart
            boolean connected = sessions.get(r.nodeName()) != null;
            NodeStore.Allocation a = busy.get(r.nodeName());
            int tasks = a == null ? 0 : a.tasks();
            // Idle time counts from when a joined node last held nothing, connected or not: an instance whose
            // agent died is idle too, and goes away after scale-down-after instead of costing forever.
            Instant idle = null;
            if (tasks > 0 || r.state() != InstanceState.JOINED) {
                idleSince.remove(r.nodeName());
            } else {
                idle = idleSince.computeIfAbsent(r.nodeName(), n -> now);
            }
            views.add(new InstanceView(r.id().toString(), r.pool(), r.nodeName(), r.offeringId(), r.shape(), r.spot(), r.priceUsdPerHour(),
                    r.state(), r.requestedAt(), r.launchedAt(), connected, tasks, idle, r.forJobs(), r.expectedTasks(), r.decision()));
        }
        List<CloudPoolSpec> specs = new ArrayList<>();
        List<Offering> offerings = new ArrayList<>();
        Map<String, String> unreadable = new HashMap<>();
        for (CloudPool pool : pools.all().values()) {
            specs.add(pool.spec());
            offerings.addAll(pool.offerings());
            if (pool.refreshError() != null && pool.offerings().isEmpty()) unreadable.put(pool.name(), pool.refreshError());
        }
        List<Plan.Unplaced> unplaced = scheduling.lastUnplaced();
        Set<String> withRoom = new HashSet<>();
        for (CloudPool pool : pools.all().values()) {
            long count = live.stream().filter(r -> r.pool().equals(pool.name())).count();
            if (count < pool.spec().maxNodes()) withRoom.add(pool.name());
        }
        Map<String, BurstTerms> terms = withBudgets(burstTerms(unplaced, offerings, withRoom, now), unplaced, offerings);
        List<WaitingTask> waiting = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (Plan.Unplaced u : unplaced) {
            TaskShape shape = u.task().shape();
            BurstTerms t = terms.getOrDefault(u.task().ref().jobId(), BurstTerms.FREE);
            int nth = seen.merge(u.task().ref().jobId(), 1, Integer::sum);
            Map<String, String> refused = t.quotaTasks() >= 0 && nth > t.quotaTasks() ? t.beyondQuota() : t.refused();
            waiting.add(new WaitingTask(new Demand(u.task().ref(), shape.request(), shape.jurisdictions(), shape.spotTolerant(), shape.pools(),
                    refused), Instant.ofEpochMilli(u.task().queuedAtMillis()), u.why().waitingCanHelp(), t.burstAfter()));
        }
        List<LaunchOutcome> history = db.await(instances.outcomesSince(now.minus(HISTORY)), "reading recent launch outcomes");
        return new BurstSnapshot(now, specs, offerings, views, waiting, history, unreadable,
                config.advertisedAddress().orElse(BrokerAddress.local()));
    }

    /**
     * What the policies in force let a job burst onto: the offerings they refuse, each with the rule
     * and its reason, and the job's {@code burstAfter} (null: the pools' own). With a quota, only
     * its first {@code quotaTasks} waiting tasks may burst; the others are refused everywhere
     * ({@code beyondQuota}). -1: no quota limits it.
     */
    private record BurstTerms(Map<String, String> refused, Duration burstAfter, int quotaTasks, Map<String, String> beyondQuota) {
        static final BurstTerms FREE = new BurstTerms(Map.of(), null, -1, Map.of());

        BurstTerms(Map<String, String> refused, Duration burstAfter) {
            this(refused, burstAfter, -1, Map.of());
        }
    }

    /**
     * The burst terms of each waiting job, by job id, evaluated once per job and offering per
     * tick: the burst rules and data gravity, then its tenant's quota (bursting buys for no more
     * of the job's tasks than the quota, spend included, would let run: {@link
     * CycleQuota.BurstAllowance}, job after job in queue order). A stored
     * policy set this broker cannot compile refuses every offering (residency could not be
     * checked), with why.
     */
    private Map<String, BurstTerms> burstTerms(List<Plan.Unplaced> unplaced, List<Offering> offerings, Set<String> withRoom, Instant now) {
        Policies.InForce inForce = policies.inForce();
        if (unplaced.isEmpty() || (inForce.set() == null && inForce.problem() == null)) return Map.of();
        CycleQuota quota = scheduling.lastQuota();
        if (inForce.set() != null && !inForce.set().burstsByJob() && quota == null) return Map.of();
        Set<UUID> ids = new HashSet<>();
        for (Plan.Unplaced u : unplaced) ids.add(UUID.fromString(u.task().ref().jobId()));
        Map<String, BurstTerms> out = new HashMap<>();
        if (inForce.set() == null) {
            Map<String, String> all = new HashMap<>();
            String why = "policy: the policy set in force (version " + inForce.version() + ") cannot be evaluated by this broker: " + inForce.problem();
            offerings.forEach(o -> all.put(o.id(), why));
            BurstTerms closed = new BurstTerms(all, null);
            ids.forEach(id -> out.put(id.toString(), closed));
            return out;
        }
        PolicySet set = inForce.set();
        Map<String, Map<String, Long>> usage = scheduling.tenantUsage();
        Map<UUID, JobCatalog.JobInfo> infos = jobs.getAll(ids);
        // Jobs in queue order, with how many of their tasks wait: quota is counted job after job.
        Map<String, Integer> waiting = new java.util.LinkedHashMap<>();
        for (Plan.Unplaced u : unplaced) waiting.merge(u.task().ref().jobId(), 1, Integer::sum);
        CycleQuota.BurstAllowance allowance = quota == null ? null : quota.burstAllowance();
        waiting.forEach((id, count) -> {
            JobCatalog.JobInfo info = infos.get(UUID.fromString(id));
            if (info == null) return;
            JobFacts job = Policies.jobFacts(info.spec());
            TenantFacts tenant = set.tenantFacts(job.tenant(), usage.getOrDefault(job.tenant(), Map.of()));
            // The burst rules, then data gravity: not where moving the job's data makes the first hour dearer than the best place with room.
            Map<String, String> refused = new HashMap<>(set.burstsByJob() ? set.burstRefusals(job, tenant, offerings, now, this::place, withRoom) : Map.of());
            Duration burstAfter = set.burstAfter(job, tenant, now).orElse(null);
            // Then the tenant's quota, spend included, on the offerings the rules leave.
            CycleQuota.Allowed allowed = allowance == null ? null : allowance.allow(job.tenant(), job.priority(), info.shape().request(), count,
                    offerings.stream().filter(o -> !refused.containsKey(o.id())).toList());
            if (allowed == null) {
                out.put(id, new BurstTerms(Map.copyOf(refused), burstAfter));
                return;
            }
            Map<String, String> beyond = new HashMap<>(refused);
            allowed.refused().forEach((offering, why) -> refused.putIfAbsent(offering, CycleQuota.FILTER + ": " + why));
            allowed.beyond().forEach((offering, why) -> beyond.putIfAbsent(offering, CycleQuota.FILTER + ": " + why));
            out.put(id, new BurstTerms(Map.copyOf(refused), burstAfter, allowed.tasks(), Map.copyOf(beyond)));
        });
        return out;
    }

    /** The terms, with every offering refused to the jobs of tenants whose hard budget is spent ({@link SpendCaps#burstRefusal}). */
    private Map<String, BurstTerms> withBudgets(Map<String, BurstTerms> terms, List<Plan.Unplaced> unplaced, List<Offering> offerings) {
        if (!budgets.anySpent() || unplaced.isEmpty()) return terms;
        Set<UUID> ids = new HashSet<>();
        for (Plan.Unplaced u : unplaced) ids.add(UUID.fromString(u.task().ref().jobId()));
        Map<String, BurstTerms> out = new HashMap<>(terms);
        jobs.getAll(ids).forEach((id, info) -> {
            String why = budgets.burstRefusal(info.spec().getTenant());
            if (why == null) return;
            Map<String, String> all = new HashMap<>();
            offerings.forEach(o -> all.put(o.id(), "budget: " + why));
            BurstTerms before = terms.getOrDefault(id.toString(), BurstTerms.FREE);
            out.put(id.toString(), new BurstTerms(all, before.burstAfter()));
        });
        return out;
    }

    /** Where an offering's instances are, as datasets and egress prices name places: {@code aws:eu-central-1}. */
    private String place(Offering o) {
        CloudPool pool = pools.get(o.pool());
        String kind = pool == null ? "local" : pool.settings().kind();
        return new PoolFacts(o.pool(), kind, o.region(), null, 0).location(null);
    }

    private void apply(BurstDecision.Result result, List<InstanceStore.InstanceRow> live) {
        Map<String, InstanceStore.InstanceRow> byId = new HashMap<>();
        live.forEach(r -> byId.put(r.id().toString(), r));
        List<BurstAction.Launch> toLaunch = new ArrayList<>();
        for (BurstAction action : result.actions()) {
            if (stopped) return;
            if (action instanceof BurstAction.MarkJoined j) {
                lifecycle.joined(byId.get(j.instanceId()));
            } else if (action instanceof BurstAction.Drain d) {
                lifecycle.drain(byId.get(d.instanceId()), d.code(), d.reason());
            } else if (action instanceof BurstAction.Terminate t) {
                InstanceStore.InstanceRow row = byId.get(t.instanceId());
                lifecycle.terminate(pools.get(row.pool()), row, t.to(), t.code(), t.reason());
            } else if (action instanceof BurstAction.HideOffering h) {
                LOG.warnf("hiding offering %s until %s: %s", h.offeringId(), h.until(), h.reason());
            } else if (action instanceof BurstAction.RestPool r) {
                LOG.errorf("pool %s rests until %s: %s", r.pool(), r.until(), r.reason());
            } else if (action instanceof BurstAction.Launch l) {
                toLaunch.add(l);
            }
        }
        if (!toLaunch.isEmpty() && !stopped) launches.launchAll(toLaunch, pools);
    }
}
