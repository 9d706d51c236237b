package dev.spillway.broker.scheduling;

import dev.spillway.broker.agents.AgentSession;
import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.agents.AssignMessages;
import dev.spillway.broker.agents.SchedulerWakeup;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.leader.Leadership;
import dev.spillway.broker.policy.Policies;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.broker.store.TaskStore;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.FairQueue;
import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.scheduling.Veto;
import dev.spillway.core.task.AttemptOutcome;
import dev.spillway.core.task.TaskState;
import dev.spillway.policies.quota.Amounts;
import dev.spillway.policies.quota.CycleQuota;
import dev.spillway.policies.quota.FairShare;
import dev.spillway.policies.quota.Flavors;
import dev.spillway.policies.quota.Reclaim;
import dev.spillway.policies.quota.Workload;
import dev.spillway.policies.rules.JobFacts;
import dev.spillway.policies.rules.PlacementContext;
import dev.spillway.policies.rules.PlacementRules;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.rules.PoolFacts;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.jboss.logging.Logger;

/**
 * The scheduling shell around the pure core: snapshot (connected nodes, their allocation, queued
 * tasks) → {@link Scheduler#plan} → commit with compare-and-set ({@link TaskStore#assign}) →
 * dispatch to the agents. One dedicated thread runs the cycles, so at most one plan is ever
 * being applied; it may block on the database without holding up any event loop.
 */
@ApplicationScoped
public class SchedulingLoop implements SchedulerWakeup {

    private static final Logger LOG = Logger.getLogger(SchedulingLoop.class);
    private static final long FINISH_SWEEP_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Shortest pause between cycles: under a stream of wake-ups, each cycle takes what arrived meanwhile. */
    private static final long MIN_GAP_MILLIS = 10;
    private static final String NO_NODES = "no nodes are connected";
    /** Without cloud pools: queued tasks read of a job beyond what can start now, for its explanation. */
    private static final int SAMPLE = 16;
    /** Jobs of one tenant a cycle looks at (its first by priority and age); the rest wait their turn in the next cycles. */
    private static final int JOBS_PER_TENANT = 1000;
    /** The longest the scheduling thread waits for one database call (the database's statement timeout ends it sooner). */
    private static final java.time.Duration DATABASE_WAIT = java.time.Duration.ofSeconds(60);

    private final AgentSessions sessions;
    private final Leadership leadership;
    private final TaskStore tasks;
    private final NodeStore nodeStore;
    private final JobCatalog jobs;
    private final BrokerConfig config;
    private final Scheduler scheduler;
    private final Policies policies;
    private final CloudOfferings cloudOfferings;
    private final Clock clock;
    private final Map<String, PoolFacts> poolFacts;
    private final AssignMessages assignments;
    private final Semaphore wakeupPermits = new Semaphore(0);
    private final dev.spillway.broker.store.Wakeups wakeups;
    private final Timer cycleTimer;
    private final Counter placementCount;
    private final AtomicLong queueDepth = new AtomicLong();
    private final AtomicLong tasksRead = new AtomicLong();
    private final Map<TaskState, AtomicLong> liveTasks = new HashMap<>();
    private volatile Map<UUID, String> pendingReasons = Map.of();
    /** Tenants with more jobs with queued tasks than a cycle reads, with how many they have. */
    private volatile Map<String, Long> crowdedTenants = Map.of();
    private volatile List<Plan.Unplaced> lastUnplaced = List.of();
    /** The connected nodes the last cycle placed on: what {@link #lastUnplaced} was judged against. */
    private volatile Set<String> lastCycleNodes = Set.of();
    private volatile Map<String, Map<String, Long>> tenantUsage = Map.of();
    private volatile boolean noNodes;
    private final boolean hasCloudPools;
    private volatile boolean running;
    /** Shapes no node of the cluster (as {@link #clusterFingerprint} describes it) can hold: only the look-ahead is read. */
    private final Set<TaskShape> setAside = new HashSet<>();
    private long clusterFingerprint;
    /** The jobs of this cycle's queue. */
    private Map<UUID, JobCatalog.JobInfo> cycleJobs = Map.of();
    /** This cycle's quota when tenants have quotas, else null. */
    private CycleQuota cycleQuota;
    /** This cycle's nodes by name, when it has a quota. */
    private Map<String, NodeView> cycleNodes = Map.of();
    /** The last cycle's quota once its placements were reserved (null without quotas): what bursting may buy for whom. */
    private volatile CycleQuota lastQuota;
    /** This cycle's placement rules when the policies place by job, else null. */
    private PlacementRules cycleRules;
    /** When each job of this cycle's queue was submitted, by job id. */
    private Map<String, Long> createdMillis = Map.of();
    /** This cycle's job facts by job id, when the policies place by job. */
    private Map<String, JobFacts> cycleFacts = Map.of();
    /** The policy set this cycle places by when its placement depends on the job (else null): shapes then carry their job's id. */
    private PolicySet placingBy;
    /** Jobs with queued tasks that the cycle's budget did not reach, with why. */
    private Map<UUID, String> notExamined = Map.of();
    /** Jobs of the last cycle none of whose tasks was read because older work of their tenant and shape had the allowance ({@link FairQueue#sharedCaps}). */
    private Map<UUID, TaskShape> behindSameShape = Map.of();
    private Thread thread;
    private long lastFinishSweep;
    private long lastDepthRead;

    public SchedulingLoop(AgentSessions sessions, TaskStore tasks, NodeStore nodeStore, JobCatalog jobs,
                          BrokerConfig config, MeterRegistry registry,
                          AssignMessages assignments, Policies policies, Clock clock, CloudOfferings cloudOfferings, Leadership leadership,
                          dev.spillway.broker.store.Wakeups wakeups) {
        this.wakeups = wakeups;
        this.leadership = leadership;
        this.cloudOfferings = cloudOfferings;
        this.assignments = assignments;
        this.policies = policies;
        this.clock = clock;
        this.poolFacts = Policies.poolFacts(config);
        this.nodeStore = nodeStore;
        this.sessions = sessions;
        this.tasks = tasks;
        this.jobs = jobs;
        this.config = config;
        this.scheduler = Scheduler.standard(config.scheduler().candidateLimit());
        this.hasCloudPools = config.pools().values().stream().anyMatch(p -> !p.kind().equals("on-prem"));
        this.cycleTimer = Timer.builder("spillway_scheduling_cycle").description("Duration of one scheduling cycle")
                .publishPercentileHistogram().register(registry);
        this.placementCount = Counter.builder("spillway_placements").description("Task placements committed").register(registry);
        Gauge.builder("spillway_queue_depth", queueDepth, AtomicLong::get)
                .description("Queued tasks at the last cycle (every one, from the jobs' maintained counts; retries in backoff included)")
                .register(registry);
        Gauge.builder("spillway_scheduling_tasks_read", tasksRead, AtomicLong::get)
                .description("Queued tasks the last cycle read: of each tenant's work of one shape, what the nodes could take plus a look-ahead")
                .register(registry);
        for (TaskState state : TaskState.UNFINISHED) {
            AtomicLong count = new AtomicLong();
            liveTasks.put(state, count);
            Gauge.builder("spillway_tasks", count, AtomicLong::get).tag("state", state.name().toLowerCase(java.util.Locale.ROOT))
                    .description("Unfinished tasks by state (refreshed every few seconds)").register(registry);
        }
    }

    void start(@Observes StartupEvent event) {
        wakeups.listen(this::wake);
        running = true;
        thread = new Thread(this::run, "spillway-scheduler");
        thread.setDaemon(true);
        thread.start();
    }

    void stop(@Observes ShutdownEvent event) throws InterruptedException {
        wakeups.close();
        running = false;
        if (thread != null) {
            thread.interrupt();
            thread.join(5000);
        }
    }

    @Override
    public void wake() {
        wakeupPermits.release();
    }

    /** Work arrived at this broker (a submission): the leader schedules it now, whether it is this broker or another. */
    public void workArrived() {
        if (leadership.isLeader()) wake();
        else wakeups.notifyLeader();
    }

    /**
     * What each tenant held on nodes at the last cycle while a policy set was in force
     * ({@code tenant.usage} in CEL); empty without one.
     */
    public Map<String, Map<String, Long>> tenantUsage() {
        return tenantUsage;
    }

    /**
     * The last cycle's quota with its placements reserved, null when no tenant has a quota; read
     * it with {@link CycleQuota#burstAllowance} only (the cycle that made it reserves no more).
     */
    public CycleQuota lastQuota() {
        return lastQuota;
    }

    /** The connected nodes the last cycle saw: a node not among them has not been offered the waiting tasks yet. */
    public Set<String> lastCycleNodes() {
        return lastCycleNodes;
    }

    /** The tasks the last cycle could not place, with why (what the burst controller works from). */
    public List<Plan.Unplaced> lastUnplaced() {
        return lastUnplaced;
    }

    /**
     * Why the queued tasks of a job of {@code tenant} waited at the last cycle; null when none
     * waited, or when the job has no queued tasks (the caller knows: it read the job's counts).
     */
    public String pendingReason(UUID jobId, String tenant) {
        if (noNodes) return NO_NODES;
        String reason = pendingReasons.get(jobId);
        if (reason != null) return reason;
        Long crowded = crowdedTenants.get(tenant);
        if (crowded == null) return null;
        return "waiting its turn: tenant " + tenant + " has " + crowded + " jobs with queued tasks and a scheduling cycle looks at the first "
                + JOBS_PER_TENANT + " of each tenant (by priority, then age)";
    }

    private void run() {
        long intervalMillis = config.scheduler().interval().toMillis();
        while (running) {
            try {
                wakeupPermits.tryAcquire(intervalMillis, TimeUnit.MILLISECONDS);
                Thread.sleep(MIN_GAP_MILLIS);
                wakeupPermits.drainPermits();
                cycleTimer.record(this::cycle);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                if (!running) return;
                LOG.errorf(e, "scheduling cycle failed; retrying in %d ms", intervalMillis);
            }
        }
    }

    /** A broker that takes over schedules at once. */
    void elected(@Observes Leadership.Elected event) {
        wake();
    }

    private void cycle() {
        if (!leadership.isLeader()) {
            // A follower schedules nothing: what it said about waiting work was the leader's to say.
            pendingReasons = Map.of();
            crowdedTenants = Map.of();
            lastUnplaced = List.of();
            noNodes = false;
            return;
        }
        List<AgentSession> connected = sessions.connected();
        if (!hasCloudPools && connected.stream().noneMatch(s -> !s.draining())) {
            // Nothing can be placed, nor burst: skip reading the queue (it may be long) and say why everything waits.
            noNodes = true;
            // Every submission wakes the loop; with no node, the depth is all there is to read: at most once a second.
            long now = System.nanoTime();
            if (now - lastDepthRead > TimeUnit.SECONDS.toNanos(1)) {
                lastDepthRead = now;
                queueDepth.set(tasks.queueDepth(DATABASE_WAIT));
            }
            pendingReasons = Map.of();
            crowdedTenants = Map.of();
            lastUnplaced = List.of();
            sweepFinishedJobs();
            return;
        }
        noNodes = false;
        long t0 = System.nanoTime();
        Map<String, NodeStore.Allocation> allocated = nodeStore.allocations().await().atMost(DATABASE_WAIT);
        List<NodeView> nodes = new ArrayList<>(connected.size());
        Set<String> names = new HashSet<>();
        for (AgentSession s : connected) names.add(s.node());
        lastCycleNodes = names;
        for (AgentSession s : connected) {
            NodeStore.Allocation a = allocated.get(s.node());
            nodes.add(s.view(a == null ? Resources.ZERO : a.resources(), sessions.cordoned(s.node())));
        }

        long t1 = System.nanoTime();
        Policies.InForce inForce = policies.inForce();
        placingBy = inForce.set() != null && inForce.set().placesByJob() ? inForce.set() : null;
        List<PendingTask> pending = pendingTasks(nodes);
        long t2 = System.nanoTime();
        Scheduler cycleScheduler = schedulerFor(inForce, nodes);
        if (cycleQuota != null) pending = fairShare(pending);
        Plan plan = cycleScheduler.plan(new Snapshot(nodes, pending));
        long t3 = System.nanoTime();

        Map<UUID, String> reasons = new HashMap<>(notExamined);
        List<Placement> placements = plan.placements();
        Map<UUID, Integer> heldByQuota = new HashMap<>();
        if (cycleQuota != null) placements = withinQuota(placements, reasons, heldByQuota);
        lastQuota = cycleQuota;
        Map<TaskShape, String> shapeReasons = new HashMap<>();
        for (Plan.Unplaced u : plan.unplaced()) {
            reasons.putIfAbsent(UUID.fromString(u.task().ref().jobId()), u.why().summary());
            shapeReasons.putIfAbsent(u.task().shape(), u.why().summary());
            // No node of the cluster as it is can take this shape: read only its look-ahead until the cluster changes.
            if (!u.why().waitingCanHelp()) setAside.add(u.task().shape());
        }
        // A job not read because older work of its tenant and shape came first waits for what that work waits for.
        behindSameShape.forEach((job, shape) -> reasons.putIfAbsent(job, shapeReasons.getOrDefault(shape,
                "waiting its turn: older work of its tenant that asks for the same resources and constraints takes the capacity free now")));
        pendingReasons = reasons;
        lastUnplaced = plan.unplaced();

        var decisions = DecisionEntries.of(placements, nodes, poolFacts, inForce.set() == null ? 0 : inForce.version(), cycleRules, cycleQuota,
                id -> shapeOf(id, cycleJobs.get(id)), id -> cycleJobs.get(id).spec().getTenant());
        List<TaskStore.Assigned> committed = tasks.assign(placements, decisions).await().atMost(DATABASE_WAIT);
        placementCount.increment(committed.size());
        if (committed.size() < placements.size()) {
            LOG.debugf("%d of %d placements refused at commit (stale task or node no longer ready)",
                    placements.size() - committed.size(), placements.size());
        }
        for (TaskStore.Assigned a : committed) {
            JobCatalog.JobInfo job = cycleJobs.get(a.jobId());
            if (!sessions.send(a.node(), assignments.assign(a.jobId(), job.spec(), a.index(), a.attempt()))) {
                LOG.debugf("node %s went away before %s/%d could be sent; it is re-sent on reconnect or re-queued when the node is lost",
                        a.node(), a.jobId(), a.index());
            }
        }
        if (cycleQuota != null) reclaim(plan, heldByQuota);
        long t4 = System.nanoTime();
        sweepFinishedJobs();
        if (LOG.isDebugEnabled()) {
            LOG.debugf("cycle: nodes %.1f ms, queue %.1f ms (%d tasks read), plan %.1f ms, commit %.1f ms (%d placed), sweep %.1f ms",
                    (t1 - t0) / 1e6, (t2 - t1) / 1e6, pending.size(), (t3 - t2) / 1e6, (t4 - t3) / 1e6, committed.size(),
                    (System.nanoTime() - t4) / 1e6);
        }
    }

    /**
     * The pipeline for this cycle: the standard one, with the placement rules of the policy set
     * in force when they depend on the job. A stored set this broker cannot compile places
     * nothing (residency could not be checked), and says so on every waiting job.
     */
    private Scheduler schedulerFor(Policies.InForce inForce, List<NodeView> nodes) {
        int limit = config.scheduler().candidateLimit();
        cycleQuota = null;
        cycleNodes = Map.of();
        cycleRules = null;
        if (inForce.set() == null && inForce.problem() != null) {
            Veto refused = Veto.fixed("policy", "the policy set in force (version "
                    + inForce.version() + ") cannot be evaluated by this broker: " + inForce.problem());
            NodeFilter closed = new NodeFilter() {
                @Override
                public String name() {
                    return "policy";
                }

                @Override
                public Veto check(TaskShape shape, dev.spillway.core.scheduling.NodeSlot node) {
                    return refused;
                }
            };
            return Scheduler.standard(limit, List.of(closed), List.of());
        }
        // Usage is read only when rules may look at it: placement or burst rules for this job.
        if (inForce.set() == null || (placingBy == null && !inForce.set().burstsByJob())) return scheduler;
        boolean byNode = placingBy != null && placingBy.countsByNode();
        List<TaskStore.OnNodes> onNodes = tasks.onNodesByJob(byNode, DATABASE_WAIT);
        Map<UUID, JobCatalog.JobInfo> running = jobs.getAll(onNodes.stream().map(TaskStore.OnNodes::jobId).toList());
        Map<String, Map<String, Long>> usage = usageByTenant(onNodes, running);
        tenantUsage = usage;
        if (placingBy == null) return scheduler;
        Map<String, JobFacts> facts = new HashMap<>();
        cycleJobs.forEach((id, job) -> facts.put(id.toString(), Policies.jobFacts(job.spec())));
        cycleFacts = facts;
        List<NodeFilter> filters = new ArrayList<>();
        PlacementRules rules = placingBy.placement(new PlacementContext(clock.instant(), shape -> facts.get(shape.facts()),
                tenant -> placingBy.tenantFacts(tenant, usage.getOrDefault(tenant, Map.of())), poolFacts, cloudOfferings.boughtAs()));
        filters.add(rules.filter());
        cycleRules = rules;
        if (!placingBy.tenantQuotas().isEmpty()) {
            Function<NodeView, Offering> boughtAs = cloudOfferings.boughtAs();
            Map<String, NodeView> byName = new HashMap<>();
            for (NodeView n : nodes) byName.put(n.name(), n);
            cycleNodes = byName;
            ToDoubleFunction<NodeView> usdPerHour = n -> {
                Offering o = n == null ? null : boughtAs.apply(n);
                return o == null ? 0 : o.priceUsdPerHour();
            };
            CycleQuota quota = new CycleQuota(placingBy.tenantQuotas(), placingBy.flavorOrder(),
                    Flavors.resolve(placingBy.flavorNames(), poolsAreCloud(nodes)), held(onNodes, running, byName, usdPerHour), usdPerHour);
            cycleQuota = quota;
            filters.add(quota.filter(shape -> {
                JobFacts job = facts.get(shape.facts());
                return job == null ? null : job.tenant();
            }, shape -> facts.get(shape.facts()).priority()));
        }
        return Scheduler.standard(limit, filters, rules.scorers());
    }

    /**
     * Fair share among the tenants with quotas ({@link FairShare#rerank}): within a priority
     * level, the jobs whose tenant would hold the lowest weighted dominant share of what its cohort
     * lends go first; tenants without a quota keep their turns.
     */
    private List<PendingTask> fairShare(List<PendingTask> pending) {
        Map<String, Integer> read = new HashMap<>();
        for (PendingTask t : pending) read.merge(t.ref().jobId(), 1, Integer::sum);
        return FairShare.rerank(pending, cycleQuota.state(), jobId -> {
            JobFacts job = cycleFacts.get(jobId);
            if (job == null || !cycleQuota.governs(job.tenant())) return null;
            return Workload.of(jobId, job.tenant(), job.priority(), createdMillis.getOrDefault(jobId, 0L), read.get(jobId),
                    Amounts.of(job.perTask(), 0), placingBy.flavorOrder().getOrDefault(job.tenant(), List.of()));
        });
    }

    /** Every pool this cycle knows, configured or of a connected node, with whether it is a cloud pool. */
    private Map<String, Boolean> poolsAreCloud(List<NodeView> nodes) {
        Map<String, Boolean> out = new HashMap<>();
        config.pools().forEach((name, p) -> out.put(name, !p.kind().equals("on-prem")));
        for (NodeView n : nodes) out.putIfAbsent(n.pool(), "true".equals(n.labels().get(dev.spillway.core.scheduling.Scorers.CLOUD_LABEL)));
        return out;
    }

    /**
     * The plan's placements that fit their tenants' quotas when reserved in plan order; the
     * others stay queued, their jobs told which quota holds them (counted in {@code held}).
     */
    private List<Placement> withinQuota(List<Placement> planned, Map<UUID, String> reasons, Map<UUID, Integer> held) {
        List<Placement> kept = new ArrayList<>(planned.size());
        for (Placement p : planned) {
            JobFacts job = cycleFacts.get(p.task().jobId());
            String why = job == null ? null : cycleQuota.reserve(job.tenant(), job.priority(), cycleNodes.get(p.node()), p.request());
            if (why == null) {
                kept.add(p);
            } else {
                UUID id = UUID.fromString(p.task().jobId());
                reasons.putIfAbsent(id, "waiting for quota: " + why + " [" + CycleQuota.FILTER + "]");
                held.merge(id, 1, Integer::sum);
            }
        }
        return kept;
    }

    /**
     * Quota reclaim: the first job (by priority, then age) whose tasks wait for quota its tenant
     * lent to its cohort takes it back, if its tenant's {@code reclaimWithinCohort} allows, by
     * preempting borrowed work; the preempted tasks are re-queued without using a retry. One job
     * per cycle: the next cycle sees the quota the preemption gave back.
     */
    private void reclaim(Plan plan, Map<UUID, Integer> heldByQuota) {
        Map<UUID, Integer> waiting = new HashMap<>(heldByQuota);
        for (Plan.Unplaced u : plan.unplaced()) {
            boolean quota = u.why().vetoes().stream().anyMatch(v -> v.veto().filter().equals(CycleQuota.FILTER) && v.veto().kind() == Veto.Kind.TRANSIENT);
            if (quota) waiting.merge(UUID.fromString(u.task().ref().jobId()), 1, Integer::sum);
        }
        if (waiting.isEmpty()) return;
        UUID first = waiting.keySet().stream().filter(id -> cycleFacts.containsKey(id.toString()))
                .min(java.util.Comparator.comparingInt((UUID id) -> -cycleFacts.get(id.toString()).priority()).thenComparing(id -> id)).orElse(null);
        if (first == null) return;
        JobFacts job = cycleFacts.get(first.toString());
        if (!cycleQuota.mayReclaim(job.tenant())) return;
        List<TaskStore.Running> running = tasks.runningOf(cycleQuota.cohortOf(job.tenant()), DATABASE_WAIT);
        Map<UUID, JobCatalog.JobInfo> infos = jobs.getAll(running.stream().map(TaskStore.Running::jobId).distinct().toList());
        List<Reclaim.Admitted> admitted = new ArrayList<>();
        Map<String, TaskStore.Running> byId = new HashMap<>();
        for (TaskStore.Running r : running) {
            NodeView node = cycleNodes.get(r.node());
            var flavor = cycleQuota.flavorOf(r.tenant(), r.pool(), node != null && CycleQuota.spot(node));
            if (flavor == null) continue;
            String id = new TaskRef(r.jobId().toString(), r.index(), r.attempt()).key();
            byId.put(id, r);
            admitted.add(new Reclaim.Admitted(id, r.tenant(), flavor.name(), r.priority(),
                    r.assignedAt().getEpochSecond() * 1_000_000 + r.assignedAt().getNano() / 1000,
                    Amounts.of(infos.get(r.jobId()).shape().request(), 0)));
        }
        List<Reclaim.Victim> victims = cycleQuota.reclaim(job.tenant(), job.priority(), cycleJobs.get(first).shape().request(),
                waiting.get(first), admitted);
        java.time.Instant now = clock.instant();
        for (Reclaim.Victim v : victims) {
            TaskStore.Running r = byId.get(v.workload().id());
            String why = "tenant " + job.tenant() + " reclaims the quota it lent (" + v.reason() + ")";
            TaskStore.Ended ended = tasks.ended(r.jobId(), r.index(), r.attempt(), r.node(), new AttemptOutcome.Preempted(r.node(), why), null, TaskStore.Usage.NONE, now)
                    .await().atMost(DATABASE_WAIT);
            if (ended == null) continue; // it ended meanwhile
            LOG.infof("preempted %s on %s: %s", v.workload().id(), r.node(), why);
            sessions.send(r.node(), dev.spillway.api.agent.v1.ConnectResponse.newBuilder().setKill(dev.spillway.api.agent.v1.Kill.newBuilder()
                    .setJobId(r.jobId().toString()).setTaskIndex(r.index()).setAttempt(r.attempt()).setReason("preempted: " + why)).build());
        }
        if (!victims.isEmpty()) wake();
    }

    /** What each tenant holds on nodes now ({@code tenant.usage} in CEL): {@code cpu} millicores, {@code memory} MiB, {@code gpu}, {@code tasks}. */
    private static Map<String, Map<String, Long>> usageByTenant(List<TaskStore.OnNodes> onNodes, Map<UUID, JobCatalog.JobInfo> running) {
        Map<String, Map<String, Long>> usage = new HashMap<>();
        for (TaskStore.OnNodes o : onNodes) {
            Resources r = running.get(o.jobId()).shape().request();
            Map<String, Long> u = usage.computeIfAbsent(o.tenant(), t -> new HashMap<>());
            u.merge("cpu", r.cpuMillis() * o.tasks(), Long::sum);
            u.merge("memory", r.memoryMib() * o.tasks(), Long::sum);
            u.merge("gpu", (long) r.gpus() * o.tasks(), Long::sum);
            u.merge("tasks", o.tasks(), Long::sum);
        }
        return usage;
    }

    /**
     * What each tenant holds on nodes now, for its quota. Counted per node (rows with their node),
     * a task also holds its share of its node's price and counts as spot or on-demand capacity as
     * its node is. A node that left the cluster is not known here: its tasks count no spend, as
     * on-demand capacity, until they end.
     */
    private static List<CycleQuota.Held> held(List<TaskStore.OnNodes> onNodes, Map<UUID, JobCatalog.JobInfo> running,
                                                     Map<String, NodeView> nodes, ToDoubleFunction<NodeView> usdPerHour) {
        List<CycleQuota.Held> held = new ArrayList<>(onNodes.size());
        for (TaskStore.OnNodes o : onNodes) {
            Resources request = running.get(o.jobId()).shape().request();
            NodeView node = o.node() == null ? null : nodes.get(o.node());
            Amounts a = (node == null ? Amounts.of(request, 0) : Amounts.onNode(request, node.capacity(), usdPerHour.applyAsDouble(node))).times(o.tasks());
            held.add(new CycleQuota.Held(o.tenant(), o.pool(), node != null && CycleQuota.spot(node), a));
        }
        return held;
    }

    /** The shape a job's tasks are placed as: judged by its own facts when the policies place by job. */
    private TaskShape shapeOf(UUID id, JobCatalog.JobInfo job) {
        return placingBy == null ? job.shape() : job.shape().withFacts(id.toString());
    }

    /**
     * The queued tasks this cycle looks at, ranked by {@link FairQueue}: the jobs with work come
     * from their maintained counts; of each, at most what the nodes could take now plus a
     * look-ahead (what bursting plans from; a few tasks without cloud pools) is read, within the
     * cycle's budget. Of a job whose shape no node of the cluster as it is can hold, only the
     * look-ahead is read until the cluster changes (the nodes' free resources alone would count
     * capacity its selectors or pools exclude).
     */
    private List<PendingTask> pendingTasks(List<NodeView> nodes) {
        TaskStore.QueueView view = tasks.queuedJobs(JOBS_PER_TENANT, DATABASE_WAIT);
        List<TaskStore.QueuedJob> queued = view.jobs();
        queueDepth.set(view.depth());
        crowdedTenants = view.crowded();
        // A new policy version may lift a veto: what was set aside is looked at again.
        long fingerprint = 31 * fingerprint(nodes) + policies.inForce().version();
        if (fingerprint != clusterFingerprint) {
            clusterFingerprint = fingerprint;
            setAside.clear();
        }
        cycleJobs = jobs.getAll(queued.stream().map(TaskStore.QueuedJob::jobId).toList());
        List<FairQueue.Job> fair = new ArrayList<>(queued.size());
        Map<String, Long> created = new HashMap<>();
        for (TaskStore.QueuedJob q : queued) {
            fair.add(new FairQueue.Job(q.jobId().toString(), q.tenant(), q.priority(), q.createdAtMillis(), q.queued()));
            created.put(q.jobId().toString(), q.createdAtMillis());
        }
        createdMillis = created;
        int lookahead = hasCloudPools ? config.scheduler().burstLookahead() : SAMPLE;
        // Of each tenant's work of one shape: what the nodes could take now, plus the look-ahead.
        Map<String, Integer> caps = FairQueue.sharedCaps(fair, j -> shapeOf(UUID.fromString(j.id()), cycleJobs.get(UUID.fromString(j.id()))), shape -> {
            // Set aside: no node can hold it now, so only bursting can help (the look-ahead is what the planner buys for).
            if (setAside.contains(shape)) return lookahead;
            return (int) Math.min(Integer.MAX_VALUE, FairQueue.placeable(shape.request(), nodes) + lookahead);
        });
        Map<String, Integer> take = FairQueue.allocate(fair, config.scheduler().maxTasksPerCycle(), j -> caps.get(j.id()));
        Map<UUID, Integer> byJob = new HashMap<>();
        take.forEach((id, n) -> byJob.put(UUID.fromString(id), n));
        Map<UUID, List<TaskStore.Queued>> read = tasks.queuedTasks(byJob, DATABASE_WAIT);
        tasksRead.set(read.values().stream().mapToLong(List::size).sum());

        Map<String, List<PendingTask>> byJobId = new HashMap<>();
        read.forEach((id, list) -> {
            JobCatalog.JobInfo job = cycleJobs.get(id);
            TaskShape shape = shapeOf(id, job);
            List<PendingTask> ts = new ArrayList<>(list.size());
            for (TaskStore.Queued q : list) {
                ts.add(new PendingTask(new TaskRef(id.toString(), q.index(), q.attempt()), shape, job.priority(), q.queuedAtMillis()));
            }
            byJobId.put(id.toString(), ts);
        });
        Map<UUID, String> waitingTurn = new HashMap<>();
        Map<UUID, TaskShape> behind = new HashMap<>();
        for (TaskStore.QueuedJob q : queued) {
            if (caps.get(q.jobId().toString()) == 0) {
                behind.put(q.jobId(), shapeOf(q.jobId(), cycleJobs.get(q.jobId())));
            } else if (!take.containsKey(q.jobId().toString())) {
                waitingTurn.put(q.jobId(), "waiting its turn: a scheduling cycle reads at most " + config.scheduler().maxTasksPerCycle()
                        + " queued tasks, shared by priority, then tenant, then age");
            }
        }
        notExamined = waitingTurn;
        behindSameShape = behind;
        return FairQueue.rank(fair, byJobId, tasks.onNodesByTenant(DATABASE_WAIT));
    }

    /** What decides whether a shape fits somewhere: the nodes, their pools, labels, capacity and whether they take work. */
    private static long fingerprint(List<NodeView> nodes) {
        long h = 1;
        for (NodeView n : nodes) {
            h = 31 * h + java.util.Objects.hash(n.name(), n.pool(), n.capacity(), n.labels(), n.schedulable());
        }
        return h;
    }

    private void sweepFinishedJobs() {
        long now = System.nanoTime();
        if (now - lastFinishSweep > FINISH_SWEEP_NANOS) {
            lastFinishSweep = now;
            tasks.finishDoneJobs().await().atMost(DATABASE_WAIT);
            Map<TaskState, Long> counts = tasks.unfinishedCounts().await().atMost(DATABASE_WAIT);
            liveTasks.forEach((state, gauge) -> gauge.set(counts.getOrDefault(state, 0L)));
        }
    }
}
