package dev.spillway.core.sim;

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
import dev.spillway.core.scheduling.Explanation;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.sim.SwfTrace.TraceJob;
import dev.spillway.core.task.TaskState;
import dev.spillway.core.task.TaskStateMachine;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A discrete-event simulation of one Spillway cluster replaying a workload trace through the
 * broker's pure cores, on a simulated clock: no threads, no sleeps, no processes, no database.
 *
 * <ul>
 *   <li>On-prem: {@code onpremCpus / nodeCpus} nodes of pool {@value #ON_PREM_POOL}, named {@code agent-0001}… as
 *       the local launcher names its agents (the scheduler walks nodes in name order).</li>
 *   <li>Every trace job arrives at its submit time (divided by the speed-up) as {@code tasks}
 *       one-cpu tasks of {@code taskMemoryMib}, each running for the job's run time once placed.
 *       Tasks of a job are independent (Spillway task arrays; no gang scheduling).</li>
 *   <li>A scheduling cycle ({@link Scheduler#plan}) runs at every instant at which something
 *       changed (an arrival, a finish, a node joining); all events of one instant are taken
 *       together, as the broker's loop takes what arrived between two wake-ups. An unchanged
 *       cluster would give the same plan, so the broker's periodic cycles are not replayed. The
 *       snapshot holds the first {@code maxTasksPerCycle} queued tasks in queue order, as the
 *       broker's query does. Placed tasks start at once (no dispatch latency) and never fail.</li>
 *   <li>Every task transition goes through {@link TaskStateMachine} (QUEUED → ASSIGNED → RUNNING →
 *       SUCCEEDED), every instance transition through {@link InstanceState#canBecome}: an illegal
 *       one throws.</li>
 *   <li>Bursting: every {@code burstTick} the burst decision gets a {@link BurstSnapshot} (pools,
 *       offerings, live instances, the last cycle's unplaced tasks as {@link WaitingTask}s, recent
 *       launch outcomes) and its actions are carried out: a launch is accepted at once
 *       (REQUESTED → PROVISIONING) and its node joins after the pool's boot delay; the next
 *       snapshot reports its agent connected, and the decision's MarkJoined makes it JOINED; Drain
 *       stops the node taking work; Terminate removes it (only a node holding no task may be
 *       terminated: anything else fails the run). An instance costs its lifetime (launch to
 *       terminate) times its hourly price. Launches never fail and spot capacity is never
 *       interrupted here. Ticks are skipped while nothing is waiting, no instance lives and no pool
 *       keeps a minimum: a decision then has nothing to act on.</li>
 * </ul>
 *
 * The scheduler and the burst decision are constructor parameters, so other policies can be
 * replayed against the same trace. Same inputs and seed (it draws the boot delays), same result.
 */
public final class Simulation {

    public static final String ON_PREM_POOL = "onprem";

    /**
     * @param onpremCpus       on-prem cpus in all
     * @param nodeCpus         cpus per on-prem node (must divide {@code onpremCpus})
     * @param nodeMemoryMib    memory per on-prem node
     * @param taskMemoryMib    memory each task asks for
     * @param spotTolerant     whether the trace's tasks may run on spot capacity
     * @param speedup          submit times are divided by it (arrivals come that much faster; run times are kept)
     * @param burstTick        how often the burst decision runs
     * @param maxTasksPerCycle most queued tasks one scheduling cycle considers
     * @param seed             draws the instances' boot delays
     * @param progressEvery    simulated time between progress lines
     */
    public record Settings(int onpremCpus, int nodeCpus, long nodeMemoryMib, long taskMemoryMib, boolean spotTolerant, double speedup,
                           Duration burstTick, int maxTasksPerCycle, long seed, Duration progressEvery) {

        public Settings {
            if (onpremCpus < 0 || nodeCpus < 1 || onpremCpus % nodeCpus != 0) {
                throw new IllegalArgumentException("on-prem cpus (" + onpremCpus + ") must be a non-negative multiple of the node cpus (" + nodeCpus + ")");
            }
            if (!(speedup > 0) || Double.isInfinite(speedup)) throw new IllegalArgumentException("speedup must be positive, got " + speedup);
            if (burstTick.toMillis() < 1) throw new IllegalArgumentException("the burst tick must be at least 1 ms");
            if (maxTasksPerCycle < 1) throw new IllegalArgumentException("max tasks per cycle must be at least 1");
            if (taskMemoryMib < 0 || nodeMemoryMib < 0) throw new IllegalArgumentException("memory must not be negative");
        }

        /** 1-cpu nodes with 4 GiB each, 1 GiB tasks, 5 s burst ticks, 2,000 tasks a cycle, seed 1, a progress line a simulated day. */
        public static Settings defaults(int onpremCpus) {
            return new Settings(onpremCpus, 1, 4096, 1024, false, 1.0, Duration.ofSeconds(5), 2000, 1, Duration.ofDays(1));
        }

        /** For a replay on given nodes and jobs ({@link #Simulation(Settings, List, List, Rules, Function)}): the trace-only fields unused. */
        public static Settings replay(Duration burstTick, int maxTasksPerCycle, long seed) {
            return new Settings(0, 1, 0, 0, false, 1.0, burstTick, maxTasksPerCycle, seed, Duration.ofDays(1));
        }

        public Settings withSeed(long seed) {
            return new Settings(onpremCpus, nodeCpus, nodeMemoryMib, taskMemoryMib, spotTolerant, speedup, burstTick, maxTasksPerCycle, seed,
                    progressEvery);
        }
    }

    /**
     * What a replay measured. Waits are per task: first start minus submit. Makespan: last finish
     * minus first submit. {@code p95WaitSeconds} is the nearest-rank 95th percentile.
     *
     * @param instances         instances launched
     * @param instancesLeftLive instances the decision had not terminated when the simulation stopped (charged until then)
     * @param tasksByPool       tasks run per pool (on-prem is {@value #ON_PREM_POOL})
     * @param actions           burst actions carried out, by kind (and reason code for drains and terminations)
     * @param refusedJobs       jobs the rules refused at submission (their tasks never ran and count nowhere else)
     * @param neverPlaced       admitted tasks still queued when nothing else could happen: no node or offering could take them
     * @param tenants           per tenant ({@code ""} for jobs without one)
     * @param launchesByType    instances launched per instance type ({@code m6i.large}, {@code m6i.large spot})
     * @param waitReasons       why jobs waited: for each job that waited, the first reason a cycle gave, and how many jobs it was;
     *                          refusals as {@code refused: <reason>}
     */
    public record Result(int jobs, long tasks, double meanWaitSeconds, double p95WaitSeconds, double maxWaitSeconds, double makespanSeconds,
                         double cloudCostUsd, int instances, int instancesLeftLive, Map<String, Long> tasksByPool, Map<String, Integer> actions,
                         int schedulingCycles, int burstTicks, int refusedJobs, long neverPlaced, Map<String, TenantResult> tenants,
                         Map<String, Integer> waitReasons, Map<String, Integer> launchesByType) {
    }

    /**
     * A cloud pool as the simulation plays it: the settings the burst decision reads, its
     * offerings, and how long its instances take to boot.
     *
     * @param bootDelayMin shortest time from launch until the instance's agent joins
     * @param bootDelayMax longest such time; each instance draws uniformly in between from the simulation's seed
     */
    public record CloudPool(CloudPoolSpec spec, List<Offering> offerings, Duration bootDelayMin, Duration bootDelayMax) {
        public CloudPool {
            offerings = List.copyOf(offerings);
            if (bootDelayMin.isNegative() || bootDelayMax.compareTo(bootDelayMin) < 0) {
                throw new IllegalArgumentException("pool " + spec.name() + ": boot delay must be 0 <= min <= max");
            }
        }

        public String name() {
            return spec.name();
        }
    }

    /**
     * One job to replay: {@code tasks} independent tasks of one shape, each running {@code
     * runMillis} once placed.
     *
     * @param submitMillis when it arrives, on the simulated clock
     */
    public record Job(String id, String tenant, int priority, long submitMillis, int tasks, long runMillis, TaskShape shape) {
        public Job {
            if (tasks < 0 || runMillis < 0 || submitMillis < 0) throw new IllegalArgumentException("job " + id + ": negative tasks or times");
        }
    }

    /** What the rules of a replay see of a cycle: the time, the nodes, and what each tenant's running tasks hold per node. */
    public record Cycle(Instant now, List<NodeView> nodes, Map<String, Map<String, Resources>> heldByTenantNode) {
    }

    /**
     * The rules a replay places by, so that policies can be replayed: which jobs are refused at
     * submission, the scheduler of each cycle, which of its placements may go ahead, and what the
     * burst decision may buy for a waiting task. Pure, like the cores.
     */
    public interface Rules {
        /** Why {@code job} is refused at submission; null admits it. */
        default String refuse(Job job, Instant now) {
            return null;
        }

        /** The scheduler for one cycle. */
        Scheduler scheduler(Cycle cycle);

        /** The cycle's queue in the order to plan it (e.g. fair share), after {@link #scheduler}; by default as it is. */
        default List<PendingTask> order(List<PendingTask> queue, Cycle cycle) {
            return queue;
        }

        /** Of the plan's placements (in plan order), those that may go ahead now (e.g. within quota); the others stay queued. */
        default List<Placement> admit(List<Placement> planned, Cycle cycle, Map<String, Job> jobs) {
            return planned;
        }

        /** A waiting task of {@code job} as the burst decision sees it. */
        default WaitingTask waiting(Job job, TaskRef task, Instant queuedAt, boolean waitingCanHelp) {
            TaskShape s = job.shape();
            return new WaitingTask(new Demand(task, s.request(), s.jurisdictions(), s.spotTolerant(), s.pools()), queuedAt, waitingCanHelp);
        }

        /**
         * The waiting tasks the burst decision is given after a cycle, in queue order, as {@link
         * #waiting} made them; a replay of quotas limits what may be bought for whom.
         */
        default List<WaitingTask> forBursting(List<WaitingTask> waiting) {
            return waiting;
        }

        /** Told of each placement carried out (e.g. to check residency). */
        default void placed(Job job, NodeView node, Instant now) {
        }

        /** Every job's tasks placed by a fixed scheduler, nothing refused. */
        static Rules of(Scheduler scheduler) {
            return cycle -> scheduler;
        }
    }

    /** What one tenant's work saw in a replay. Waits are per task; cost is the tenant's share of the cloud instances' cost (by task time). */
    public record TenantResult(int jobs, int refused, long tasks, long deferredTasks, double meanWaitSeconds, double p95WaitSeconds,
                               double cloudCostUsd, Map<String, Double> cloudCostByPool) {
    }

    private final Settings settings;
    private final List<NodeView> onPrem;
    private final List<CloudPool> pools;
    private final Rules rules;
    private final Function<BurstSnapshot, BurstDecision.Result> decision;
    private boolean everyTick;

    /**
     * A cluster of {@code settings.onpremCpus() / settings.nodeCpus()} identical on-prem nodes.
     *
     * @param pools     cloud pools; empty: no bursting (the decision is never asked)
     * @param scheduler the scheduling core, e.g. {@code Scheduler.standard()}
     * @param decision  the burst decision, e.g. {@code new BurstDecision()::decide}
     */
    public Simulation(Settings settings, List<CloudPool> pools, Scheduler scheduler, Function<BurstSnapshot, BurstDecision.Result> decision) {
        this(settings, nodesOf(settings), pools, Rules.of(scheduler), decision);
    }

    /**
     * A cluster of the given on-prem nodes (their allocation is ignored: they start empty) and
     * cloud pools, placing by {@code rules}.
     */
    public Simulation(Settings settings, List<NodeView> onPrem, List<CloudPool> pools, Rules rules,
                      Function<BurstSnapshot, BurstDecision.Result> decision) {
        this.settings = settings;
        this.onPrem = List.copyOf(onPrem);
        this.pools = List.copyOf(pools);
        this.rules = rules;
        this.decision = decision;
        Set<String> names = new TreeSet<>();
        for (CloudPool p : this.pools) {
            if (p.name().equals(ON_PREM_POOL) || !names.add(p.name())) throw new IllegalArgumentException("pool names must be unique and not " + ON_PREM_POOL + ": " + p.name());
        }
    }

    /**
     * Makes every burst tick ask the decision, also while it said it would ask for nothing: for
     * checking that skipping those changes no result.
     */
    public Simulation everyTick() {
        everyTick = true;
        return this;
    }

    /** {@code agent-0001}… of pool {@value #ON_PREM_POOL}, as the local launcher names its agents (the scheduler walks nodes in name order). */
    private static List<NodeView> nodesOf(Settings settings) {
        List<NodeView> out = new ArrayList<>();
        int perNode = settings.nodeCpus();
        for (int i = 0; i < settings.onpremCpus() / perNode; i++) {
            out.add(new NodeView(String.format(Locale.ROOT, "agent-%04d", i + 1), ON_PREM_POOL, new Resources(perNode * 1000L, settings.nodeMemoryMib(), 0),
                    Resources.ZERO, Map.of(), true));
        }
        return out;
    }

    /**
     * The trace's jobs as the settings make them: arrivals divided by the speed-up, one-cpu tasks
     * of {@code taskMemoryMib}, spot-tolerant as set, no tenant, priority 0.
     */
    public List<Job> jobsOf(List<TraceJob> trace) {
        TaskShape shape = new TaskShape(new Resources(1000, settings.taskMemoryMib(), 0), Map.of(), Set.of(), Set.of(), settings.spotTolerant());
        List<Job> out = new ArrayList<>(trace.size());
        for (TraceJob t : trace) {
            out.add(new Job(String.format(Locale.ROOT, "job-%010d", t.number()), "", 0, Math.round(t.submitSeconds() * 1000 / settings.speedup()),
                    t.tasks(), Math.round(t.runSeconds() * 1000), shape));
        }
        return out;
    }

    /** Replays the trace's jobs ({@link #jobsOf}); {@code progress} receives a line per simulated {@code progressEvery} and notable events. */
    public Result run(List<TraceJob> trace, Consumer<String> progress) {
        return replay(jobsOf(trace), progress);
    }

    /** Replays {@code jobs}; {@code progress} receives a line per simulated {@code progressEvery} and notable events. */
    public Result replay(List<Job> jobs, Consumer<String> progress) {
        return new Run(jobs, progress).run();
    }

    // ---- the state of one replay ----

    private static final class SimTask {
        final PendingTask pending;
        final Job job;
        final int tenant;
        final long submitMillis;
        final long runMillis;
        TaskState state = TaskState.QUEUED;
        SimNode node;
        WaitingTask asWaiting;

        SimTask(PendingTask pending, Job job, int tenant, long submitMillis, long runMillis) {
            this.pending = pending;
            this.job = job;
            this.tenant = tenant;
            this.submitMillis = submitMillis;
            this.runMillis = runMillis;
        }

        void become(TaskState next) {
            if (!TaskStateMachine.allowed(state, next)) {
                throw new IllegalStateException("task " + pending.ref() + ": illegal transition " + state + " -> " + next);
            }
            state = next;
        }
    }

    private static final class SimNode {
        final String name;
        final String pool;
        final Resources capacity;
        final Map<String, String> labels;
        final SimInstance instance;
        Resources allocated = Resources.ZERO;
        boolean schedulable = true;
        int tasks;
        long idleSinceMillis;
        NodeView view;
        /** Task time run on the node, per tenant: how a cloud instance's cost is shared. */
        final Map<String, Long> taskMillisByTenant = new TreeMap<>();

        SimNode(String name, String pool, Resources capacity, Map<String, String> labels, SimInstance instance, long now) {
            this.name = name;
            this.pool = pool;
            this.capacity = capacity;
            this.labels = Map.copyOf(labels);
            this.instance = instance;
            this.idleSinceMillis = now;
        }

        NodeView view() {
            if (view == null) view = new NodeView(name, pool, capacity, allocated, labels, schedulable);
            return view;
        }

        void take(Resources r) {
            allocated = allocated.plus(r);
            if (!capacity.covers(allocated)) throw new IllegalStateException("node " + name + " over-committed: " + allocated + " on " + capacity);
            tasks++;
            view = null;
        }

        void release(Resources r, long now) {
            allocated = allocated.minusClamped(r);
            if (--tasks == 0) idleSinceMillis = now;
            view = null;
        }
    }

    private static final class SimInstance {
        final String id;
        final CloudPool pool;
        final Offering offering;
        final String nodeName;
        final long requestedMillis;
        final Set<String> forJobs;
        final int expectedTasks;
        final String decision;
        InstanceState state = InstanceState.REQUESTED;
        long launchedMillis = -1;
        long endedMillis = -1;
        SimNode node;

        SimInstance(String id, CloudPool pool, Offering offering, String nodeName, long now, Set<String> forJobs, int expectedTasks,
                    String decision) {
            this.id = id;
            this.pool = pool;
            this.offering = offering;
            this.nodeName = nodeName;
            this.requestedMillis = now;
            this.forJobs = Set.copyOf(forJobs);
            this.expectedTasks = expectedTasks;
            this.decision = decision;
        }

        void become(InstanceState next) {
            if (!state.canBecome(next)) throw new IllegalStateException("instance " + id + ": illegal transition " + state + " -> " + next);
            state = next;
        }

        double costUsd() {
            return (endedMillis - launchedMillis) / 3_600_000.0 * offering.priceUsdPerHour();
        }
    }

    /** Events at one instant are handled in the order they were scheduled. */
    private record Event(long atMillis, long seq, Object what) implements Comparable<Event> {
        @Override
        public int compareTo(Event o) {
            int c = Long.compare(atMillis, o.atMillis);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    private record Arrival(Job job) {
    }

    private record Finish(List<SimTask> tasks) {
    }

    private record Join(SimInstance instance) {
    }

    /** A burst decision due; superseded when a sooner one was scheduled after it ({@code generation} no longer current). */
    private record BurstTick(long generation) {
    }

    private final class Run {
        final List<Job> jobs;
        final Consumer<String> progress;
        final PriorityQueue<Event> events = new PriorityQueue<>();
        final TreeSet<SimTask> queue = new TreeSet<>((a, b) -> Scheduler.QUEUE_ORDER.compare(a.pending, b.pending));
        final Map<TaskRef, SimTask> queuedByRef = new HashMap<>();
        /** The same tasks by their PendingTask instance, which the plan hands back for unplaced tasks (identity: cheap). */
        final Map<PendingTask, SimTask> queuedByPending = new IdentityHashMap<>();
        final Map<String, SimNode> nodes = new TreeMap<>();
        final Map<String, SimInstance> live = new TreeMap<>();
        final List<SimInstance> ended = new ArrayList<>();
        final Map<String, CloudPool> poolsByName = new LinkedHashMap<>();
        final List<CloudPoolSpec> poolSpecs = new ArrayList<>();
        final List<Offering> offerings = new ArrayList<>();
        final Map<String, Offering> offeringsById = new HashMap<>();
        final List<LaunchOutcome> history = new ArrayList<>();
        final Map<String, Long> tasksByPool = new TreeMap<>();
        final Map<String, Integer> actions = new TreeMap<>();
        final Random random = new Random(settings.seed());
        final Map<String, Job> jobsById = new HashMap<>();
        final Map<String, Integer> tenantIndex = new LinkedHashMap<>();
        final List<String> tenantNames = new ArrayList<>();
        int[] waitTenants;
        final Map<String, Integer> refusedByTenant = new TreeMap<>();
        final Map<String, Integer> jobsByTenant = new TreeMap<>();
        final Map<String, Integer> waitReasons = new TreeMap<>();
        final Map<String, Integer> launchesByType = new TreeMap<>();
        /** Jobs whose waiting reason was counted. */
        final Set<String> waited = new java.util.HashSet<>();
        final Map<String, Map<String, Resources>> held = new TreeMap<>();
        int refused;
        final long historyKeepMillis;
        final boolean poolsKeepNodes;
        List<WaitingTask> waiting = List.of();
        long[] waitsMillis;
        int taskCount;
        long seq;
        long now;
        boolean changed;
        boolean tickPending;
        long tickAt;
        long tickGeneration;
        /** Something changed since the last burst decision (an event, or the decision's own actions). */
        boolean dirty = true;
        /** Until when the last decision said the same snapshot asks for nothing (epoch millis; MAX_VALUE: no timer runs). */
        long quietUntilMillis = Long.MIN_VALUE;
        /** Whether decisions were due at the end of the last instant (something waiting, an instance live, a pool keeping nodes). */
        boolean decisionsDue;
        long lastDecisionAt = Long.MIN_VALUE;
        long nextProgressMillis;
        long firstSubmitMillis = Long.MAX_VALUE;
        long lastFinishMillis;
        long started;
        long finished;
        int arrived;
        int instanceSeq;
        int cycles;
        int ticks;
        int leftLive;

        Run(List<Job> jobs, Consumer<String> progress) {
            this.jobs = jobs;
            this.progress = progress;
            long keep = 3_600_000;
            boolean keepsNodes = false;
            for (CloudPool p : pools) {
                poolsByName.put(p.name(), p);
                poolSpecs.add(p.spec());
                for (Offering o : p.offerings()) {
                    offerings.add(o);
                    offeringsById.put(o.id(), o);
                }
                keep = Math.max(keep, 2 * Math.max(p.spec().joinTimeout().toMillis(), p.spec().capacityErrorBackoff().toMillis()));
                keepsNodes |= p.spec().minNodes() > 0;
            }
            historyKeepMillis = keep;
            poolsKeepNodes = keepsNodes;
        }

        Result run() {
            for (NodeView n : onPrem) {
                if (nodes.put(n.name(), new SimNode(n.name(), n.pool(), n.capacity(), n.labels(), null, 0)) != null) {
                    throw new IllegalArgumentException("two on-prem nodes named " + n.name());
                }
            }
            long tasksInTrace = 0;
            for (Job job : jobs) {
                if (jobsById.put(job.id(), job) != null) throw new IllegalArgumentException("two jobs with id " + job.id());
                long at = job.submitMillis();
                firstSubmitMillis = Math.min(firstSubmitMillis, at);
                schedule(at, new Arrival(job));
                tasksInTrace += job.tasks();
            }
            if (tasksInTrace > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many tasks: " + tasksInTrace);
            waitsMillis = new long[(int) tasksInTrace];
            waitTenants = new int[(int) tasksInTrace];
            nextProgressMillis = jobs.isEmpty() ? Long.MAX_VALUE : firstSubmitMillis + settings.progressEvery().toMillis();
            long stopAt = Long.MAX_VALUE;
            while (true) {
                // A superseded decision is no event: it must not move the clock.
                while (!events.isEmpty() && events.peek().what() instanceof BurstTick t && t.generation() != tickGeneration) events.poll();
                if (events.isEmpty() || events.peek().atMillis() > stopAt) break;
                now = events.peek().atMillis();
                reportProgressUntil(now);
                // Decisions were skipped since the last one: nothing changed, so each would have asked for nothing.
                boolean skipping = !dirty && decisionsDue;
                boolean tick = false;
                while (!events.isEmpty() && events.peek().atMillis() == now) {
                    Object what = events.poll().what();
                    if (what instanceof BurstTick t) {
                        tick |= t.generation() == tickGeneration;
                    } else {
                        handle(what);
                        dirty = true;
                    }
                }
                if (changed) cycle();
                long tickMillis = settings.burstTick().toMillis();
                if (tick) {
                    tickPending = false;
                    burst();
                } else if (skipping && dirty && now % tickMillis == 0 && now > lastDecisionAt) {
                    // Something changed on a tick while decisions were being skipped: the decision of this tick sees it, as it would have.
                    burst();
                }
                decisionsDue = !pools.isEmpty() && (!waiting.isEmpty() || !live.isEmpty() || poolsKeepNodes);
                if (decisionsDue) scheduleTick();
                if (stopAt == Long.MAX_VALUE && finished == taskCount && arrived == jobs.size() && (!live.isEmpty() || poolsKeepNodes)) {
                    // Everything ran: give the decision time to scale the pools down, then stop and charge what is left.
                    stopAt = now + settleMillis();
                }
            }
            long end = Math.max(now, lastFinishMillis);
            leftLive = live.size();
            if (leftLive > 0) {
                progress.accept(String.format(Locale.ROOT, "%d instance(s) still live when the simulation stopped at %s; charged until then",
                        leftLive, clock(end)));
                for (SimInstance i : live.values()) {
                    i.endedMillis = end;
                    ended.add(i);
                }
            }
            // Tasks no node or offering could ever take stay queued (counted as never placed); one placed and not finished is a bug.
            if (finished != started) throw new IllegalStateException("only " + finished + " of " + started + " placed tasks finished");
            return result();
        }

        /**
         * The next burst decision: at the next tick, unless nothing changed since the last one and
         * it said it would ask for nothing until a later time (then at the first tick from then:
         * the decisions in between would see the same snapshot and ask for nothing). An event
         * brings a decision scheduled later back to the next tick.
         */
        void scheduleTick() {
            long tick = settings.burstTick().toMillis();
            long next = (now / tick + 1) * tick;
            long at = next;
            // No timer runs: only a change can make the decision act (also with every tick, or work no offering fits would tick forever).
            if (!dirty && quietUntilMillis == Long.MAX_VALUE) return;
            if (!dirty && !everyTick) at = Math.max(next, Math.floorDiv(quietUntilMillis + tick - 1, tick) * tick);
            if (tickPending && tickAt <= at) return;
            tickGeneration++;
            tickPending = true;
            tickAt = at;
            schedule(at, new BurstTick(tickGeneration));
        }

        long settleMillis() {
            long settle = 600_000;
            for (CloudPool p : pools) {
                settle = Math.max(settle, p.spec().scaleDownAfter().toMillis() + p.spec().joinTimeout().toMillis() + p.bootDelayMax().toMillis()
                        + 10 * settings.burstTick().toMillis());
            }
            return settle;
        }

        void schedule(long at, Object what) {
            events.add(new Event(at, seq++, what));
        }

        void handle(Object what) {
            if (what instanceof Arrival a) arrive(a.job());
            else if (what instanceof Finish f) f.tasks().forEach(this::finish);
            else if (what instanceof Join j) join(j.instance());
            else throw new IllegalStateException("unknown event " + what);
        }

        void arrive(Job job) {
            arrived++;
            jobsByTenant.merge(job.tenant(), 1, Integer::sum);
            int tenant = tenantIndex.computeIfAbsent(job.tenant(), t -> {
                tenantNames.add(t);
                return tenantNames.size() - 1;
            });
            String refusal = rules.refuse(job, Instant.ofEpochMilli(now));
            if (refusal != null) {
                refused++;
                refusedByTenant.merge(job.tenant(), 1, Integer::sum);
                waitReasons.merge("refused: " + refusal, 1, Integer::sum);
                return;
            }
            for (int i = 0; i < job.tasks(); i++) {
                SimTask task = new SimTask(new PendingTask(new TaskRef(job.id(), i, 0), job.shape(), job.priority(), job.submitMillis()), job, tenant,
                        job.submitMillis(), job.runMillis());
                if (!queue.add(task) || queuedByRef.put(task.pending.ref(), task) != null) throw new IllegalStateException("duplicate task " + task.pending.ref());
                queuedByPending.put(task.pending, task);
                taskCount++;
            }
            changed = true;
        }

        void finish(SimTask task) {
            task.become(TaskState.SUCCEEDED);
            task.node.release(task.pending.shape().request(), now);
            task.node.taskMillisByTenant.merge(task.job.tenant(), task.runMillis, Long::sum);
            held.get(task.job.tenant()).merge(task.node.name, task.pending.shape().request(), Resources::minusClamped);
            finished++;
            lastFinishMillis = Math.max(lastFinishMillis, now);
            changed = true;
        }

        void join(SimInstance instance) {
            if (!instance.state.live()) return; // terminated before it booted
            SimNode node = new SimNode(instance.nodeName, instance.pool.name(), instance.offering.shape(), Map.of(
                    Scorers.CLOUD_LABEL, "true",
                    TaskShape.SPOT_LABEL, Boolean.toString(instance.offering.spot()),
                    TaskShape.JURISDICTION_LABEL, instance.offering.jurisdiction(),
                    "spillway.dev/instance-type", instance.offering.instanceType(),
                    "spillway.dev/zone", instance.offering.zone()), instance, now);
            instance.node = node;
            nodes.put(node.name, node);
            changed = true;
        }

        void cycle() {
            changed = false;
            cycles++;
            List<NodeView> views = new ArrayList<>(nodes.size());
            for (SimNode n : nodes.values()) views.add(n.view());
            List<PendingTask> pending = new ArrayList<>(Math.min(queue.size(), settings.maxTasksPerCycle()));
            Iterator<SimTask> it = queue.iterator();
            while (it.hasNext() && pending.size() < settings.maxTasksPerCycle()) pending.add(it.next().pending);
            Cycle cycle = new Cycle(Instant.ofEpochMilli(now), views, held);
            Scheduler scheduler = rules.scheduler(cycle);
            Plan plan = scheduler.plan(new Snapshot(views, rules.order(pending, cycle)));
            List<Placement> placements = rules.admit(plan.placements(), cycle, jobsById);
            Map<Long, List<SimTask>> finishing = new TreeMap<>();
            for (Placement p : placements) {
                SimTask task = queuedByRef.remove(p.task());
                SimNode node = nodes.get(p.node());
                if (task == null || node == null) throw new IllegalStateException("the plan placed an unknown task or on an unknown node: " + p);
                rules.placed(task.job, node.view(), cycle.now());
                task.become(TaskState.ASSIGNED);
                task.become(TaskState.RUNNING); // dispatch and start take no simulated time
                queue.remove(task);
                queuedByPending.remove(task.pending);
                node.take(p.request());
                held.computeIfAbsent(task.job.tenant(), t -> new TreeMap<>()).merge(node.name, p.request(), Resources::plus);
                task.node = node;
                waitTenants[(int) started] = task.tenant;
                waitsMillis[(int) started++] = now - task.submitMillis;
                tasksByPool.merge(node.pool, 1L, Long::sum);
                finishing.computeIfAbsent(now + task.runMillis, k -> new ArrayList<>()).add(task);
            }
            finishing.forEach((at, tasks) -> schedule(at, new Finish(tasks)));
            if (placements.size() < plan.placements().size()) {
                for (Placement p : plan.placements()) {
                    if (queuedByRef.containsKey(p.task()) && waited.add(p.task().jobId())) waitReasons.merge("held by the rules after planning", 1, Integer::sum);
                }
            }
            String lastJob = null; // a job's tasks come one after another: look each job up once
            for (Plan.Unplaced u : plan.unplaced()) {
                String job = u.task().ref().jobId();
                if (job == lastJob) continue;
                lastJob = job;
                if (waited.add(job)) waitReasons.merge(u.why().cause(), 1, Integer::sum);
            }
            rememberWaiting(plan.unplaced());
        }

        /** The last cycle's unplaced tasks as the burst decision sees them. */
        void rememberWaiting(List<Plan.Unplaced> unplaced) {
            if (pools.isEmpty()) return; // nobody asks
            List<WaitingTask> w = new ArrayList<>(unplaced.size());
            Explanation why = null;
            boolean canHelp = false;
            for (Plan.Unplaced u : unplaced) {
                if (u.why() != why) { // tasks of one shape share their explanation: ask once
                    why = u.why();
                    canHelp = why.waitingCanHelp();
                }
                SimTask task = queuedByPending.get(u.task());
                if (task == null) task = queuedByRef.get(u.task().ref()); // the rules reordered the queue: new instances (ranks)
                if (task.asWaiting == null || task.asWaiting.waitingCanHelp() != canHelp) {
                    task.asWaiting = rules.waiting(task.job, task.pending.ref(), Instant.ofEpochMilli(task.submitMillis), canHelp);
                }
                w.add(task.asWaiting);
            }
            waiting = List.copyOf(rules.forBursting(w));
        }

        void burst() {
            ticks++;
            lastDecisionAt = now;
            history.removeIf(o -> o.at().toEpochMilli() < now - historyKeepMillis);
            List<InstanceView> views = new ArrayList<>(live.size());
            for (SimInstance i : live.values()) {
                SimNode n = i.node;
                views.add(new InstanceView(i.id, i.pool.name(), i.nodeName, i.offering.id(), i.offering.shape(), i.offering.spot(),
                        i.offering.priceUsdPerHour(), i.state, Instant.ofEpochMilli(i.requestedMillis),
                        i.launchedMillis < 0 ? null : Instant.ofEpochMilli(i.launchedMillis), n != null, n == null ? 0 : n.tasks,
                        n == null || n.tasks > 0 ? null : Instant.ofEpochMilli(n.idleSinceMillis), i.forJobs, i.expectedTasks, i.decision));
            }
            BurstSnapshot snapshot = new BurstSnapshot(Instant.ofEpochMilli(now), poolSpecs, offerings, views, waiting, history, Map.of(),
                    "simulator");
            BurstDecision.Result result = decision.apply(snapshot);
            dirty = !result.actions().isEmpty();
            quietUntilMillis = result.quietUntil() == null ? Long.MIN_VALUE
                    : result.quietUntil().equals(Instant.MAX) ? Long.MAX_VALUE : result.quietUntil().toEpochMilli();
            if (quietUntilMillis == Long.MIN_VALUE) dirty = true; // not known: decide again at the next tick
            for (BurstAction action : result.actions()) {
                actions.merge(actionKind(action), 1, Integer::sum);
                apply(action);
            }
        }

        void apply(BurstAction action) {
            if (action instanceof BurstAction.Launch l) {
                launch(l);
            } else if (action instanceof BurstAction.MarkJoined m) {
                SimInstance i = liveInstance(m.instanceId(), action);
                if (i.node == null) throw new IllegalStateException("MarkJoined for " + i.id + ", whose agent has not connected");
                i.become(InstanceState.JOINED);
                history.add(new LaunchOutcome(i.pool.name(), i.offering.id(), Instant.ofEpochMilli(now), LaunchOutcome.Kind.JOINED,
                        "joined after " + (now - i.launchedMillis) / 1000 + " s"));
            } else if (action instanceof BurstAction.Drain d) {
                SimInstance i = liveInstance(d.instanceId(), action);
                i.become(InstanceState.DRAINING);
                if (i.node != null) {
                    i.node.schedulable = false;
                    i.node.view = null;
                }
            } else if (action instanceof BurstAction.Terminate t) {
                terminate(liveInstance(t.instanceId(), action), t);
            } else if (action instanceof BurstAction.HideOffering h) {
                progress.accept(clock(now) + " hide " + h.offeringId() + " until " + clock(h.until().toEpochMilli()) + ": " + h.reason());
            } else if (action instanceof BurstAction.RestPool r) {
                progress.accept(clock(now) + " rest pool " + r.pool() + " until " + clock(r.until().toEpochMilli()) + ": " + r.reason());
            } else {
                throw new IllegalStateException("unknown burst action " + action);
            }
        }

        /** {@code Launch}, {@code Drain:idle}, {@code Terminate:not_needed}…: what the decision did, and why. */
        static String actionKind(BurstAction action) {
            String kind = action.getClass().getSimpleName();
            if (action instanceof BurstAction.Drain d && d.code() != null) return kind + ":" + d.code().code();
            if (action instanceof BurstAction.Terminate t && t.code() != null) return kind + ":" + t.code().code();
            return kind;
        }

        SimInstance liveInstance(String id, BurstAction action) {
            SimInstance i = live.get(id);
            if (i == null) throw new IllegalStateException(action + " names no live instance");
            return i;
        }

        void launch(BurstAction.Launch l) {
            Offering o = offeringsById.get(l.offering().id());
            if (o == null) throw new IllegalStateException("Launch of an offering no pool offers: " + l.offering().id());
            CloudPool pool = poolsByName.get(o.pool());
            instanceSeq++;
            launchesByType.merge(o.instanceType() + (o.spot() ? " spot" : ""), 1, Integer::sum);
            Set<String> forJobs = new TreeSet<>();
            l.forTasks().forEach(t -> forJobs.add(t.jobId()));
            SimInstance i = new SimInstance(String.format(Locale.ROOT, "i-%06d", instanceSeq), pool, o,
                    String.format(Locale.ROOT, "%s-%06d", pool.name(), instanceSeq), now, forJobs, l.expectedTasks(), l.reason());
            i.become(InstanceState.PROVISIONING); // the simulated provider accepts every launch at once
            i.launchedMillis = now;
            live.put(i.id, i);
            long min = pool.bootDelayMin().toMillis();
            long span = pool.bootDelayMax().toMillis() - min;
            schedule(now + min + (span == 0 ? 0 : (long) (random.nextDouble() * (span + 1))), new Join(i));
        }

        void terminate(SimInstance i, BurstAction.Terminate t) {
            if (i.node != null && i.node.tasks > 0) {
                throw new IllegalStateException("the burst decision terminated " + i.id + " (" + t.reason() + ") while its node " + i.nodeName
                        + " holds " + i.node.tasks + " task(s)");
            }
            i.become(t.to());
            i.endedMillis = now;
            live.remove(i.id);
            ended.add(i);
            if (i.node != null) nodes.remove(i.nodeName);
            else if (t.to() == InstanceState.FAILED) {
                history.add(new LaunchOutcome(i.pool.name(), i.offering.id(), Instant.ofEpochMilli(now), LaunchOutcome.Kind.NEVER_JOINED, t.reason()));
            }
        }

        void reportProgressUntil(long at) {
            while (at >= nextProgressMillis) {
                double cost = 0;
                for (SimInstance i : ended) cost += i.costUsd();
                for (SimInstance i : live.values()) cost += (nextProgressMillis - i.launchedMillis) / 3_600_000.0 * i.offering.priceUsdPerHour();
                int running = 0;
                for (SimNode n : nodes.values()) running += n.tasks;
                progress.accept(String.format(Locale.ROOT,
                        "%s: %d/%d jobs arrived, %d tasks done, %d queued, %d running, %d cloud instance(s), cloud cost %.2f USD",
                        clock(nextProgressMillis), arrived, jobs.size(), finished, queue.size(), running, live.size(), cost));
                nextProgressMillis += settings.progressEvery().toMillis();
            }
        }

        String clock(long millis) {
            long s = millis / 1000;
            return String.format(Locale.ROOT, "t=%dd%02dh%02dm%02ds", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
        }

        Result result() {
            int n = (int) started;
            long[] sorted = Arrays.copyOf(waitsMillis, n);
            Arrays.sort(sorted);
            double sum = 0;
            for (long w : sorted) sum += w;
            double cost = 0;
            for (SimInstance i : ended) cost += i.costUsd();
            return new Result(jobs.size(), n, n == 0 ? 0 : sum / n / 1000, n == 0 ? 0 : sorted[(int) Math.ceil(0.95 * n) - 1] / 1000.0,
                    n == 0 ? 0 : sorted[n - 1] / 1000.0, n == 0 ? 0 : (lastFinishMillis - firstSubmitMillis) / 1000.0, cost, instanceSeq,
                    leftLive, tasksByPool, actions, cycles, ticks, refused, taskCount - started, tenantResults(), waitReasons,
                    launchesByType);
        }

        /** Waits per tenant, and each ended instance's cost shared by the task time its tenants ran on it (by the jobs it was bought for when none ran). */
        Map<String, TenantResult> tenantResults() {
            Map<String, Map<String, Double>> costs = new TreeMap<>();
            for (SimInstance i : ended) {
                Map<String, Long> shares = i.node == null ? Map.of() : i.node.taskMillisByTenant;
                if (shares.isEmpty()) {
                    Map<String, Long> bought = new TreeMap<>();
                    for (String job : i.forJobs) bought.merge(jobsById.containsKey(job) ? jobsById.get(job).tenant() : "", 1L, Long::sum);
                    shares = bought.isEmpty() ? Map.of("", 1L) : bought;
                }
                double total = shares.values().stream().mapToLong(Long::longValue).sum();
                for (var e : shares.entrySet()) {
                    costs.computeIfAbsent(e.getKey(), t -> new TreeMap<>()).merge(i.pool.name(), i.costUsd() * e.getValue() / total, Double::sum);
                }
            }
            Map<String, TenantResult> out = new TreeMap<>();
            for (int t = 0; t < tenantNames.size(); t++) {
                String name = tenantNames.get(t);
                int count = 0;
                for (int k = 0; k < started; k++) if (waitTenants[k] == t) count++;
                long[] waits = new long[count];
                int c = 0;
                long deferred = 0;
                for (int k = 0; k < started; k++) {
                    if (waitTenants[k] != t) continue;
                    waits[c++] = waitsMillis[k];
                    if (waitsMillis[k] > 0) deferred++;
                }
                Arrays.sort(waits);
                double total = 0;
                for (long w : waits) total += w;
                Map<String, Double> byPool = costs.getOrDefault(name, Map.of());
                out.put(name, new TenantResult(jobsByTenant.getOrDefault(name, 0), refusedByTenant.getOrDefault(name, 0), count, deferred,
                        count == 0 ? 0 : total / count / 1000, count == 0 ? 0 : waits[(int) Math.ceil(0.95 * count) - 1] / 1000.0,
                        byPool.values().stream().mapToDouble(Double::doubleValue).sum(), byPool));
            }
            costs.forEach((name, byPool) -> out.putIfAbsent(name, new TenantResult(0, 0, 0, 0, 0, 0,
                    byPool.values().stream().mapToDouble(Double::doubleValue).sum(), byPool)));
            return out;
        }
    }
}
