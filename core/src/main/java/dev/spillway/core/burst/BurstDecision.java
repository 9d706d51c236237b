package dev.spillway.core.burst;

import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The burst decision: given one {@link BurstSnapshot}, what to launch, join, drain and terminate,
 * and what to tell users about every waiting task. Pure and deterministic; the broker's burst
 * controller and the simulator gather the snapshot and carry out the actions.
 *
 * <p>Phases, in order (each a method below):
 * <ol>
 *   <li><b>holds</b>: offerings hidden and pools resting, derived from the launch outcome history;</li>
 *   <li><b>join watch</b>: instances whose agent connected are joined; those past their join
 *       timeout are terminated as FAILED, which hides their offering (exponential backoff) and,
 *       after {@code joinFailureLimit} in a row, rests the pool;</li>
 *   <li><b>scale down</b>: joined instances idle past {@code scaleDownAfter} are drained, down to
 *       {@code minNodes}; draining instances whose node holds nothing are terminated;</li>
 *   <li><b>coming capacity</b>: waiting tasks are first fitted into instances already on their
 *       way (each first takes its own jobs' tasks); an instance on its way whose jobs no longer
 *       wait and that no other waiting task needs is terminated;</li>
 *   <li><b>launch</b>: the rest of the demand that may burst now goes to the {@link BurstPlanner}.
 *       When a pool's node limit or spend cap will bind on the whole queue, the instances are
 *       sized for the whole queue (the most capacity the limit allows), not only for the tasks
 *       that may burst this instant;</li>
 *   <li><b>replace</b>: when a node limit binds while tasks wait, the smallest joined instance
 *       of the pool is drained so a larger one can take its place.</li>
 * </ol>
 *
 * <p>Invariants (checked by property tests): never more live instances in a pool than its
 * {@code maxNodes}, nor more hourly spend than its cap; never below {@code minNodes} joined
 * instances by draining; never terminates an instance whose node holds work; never launches
 * for a task an instance on its way already holds.
 */
public final class BurstDecision {

    /**
     * What one decision asks for, and what it says to users.
     *
     * @param quietUntil when it asks for nothing: until when the same snapshot (only its time
     *                   later) asks for nothing either, the first of its timers (a task's burst-after
     *                   waited out, an instance's join timeout or idle time, a hold's end);
     *                   {@link Instant#MAX} when none runs. Null when it asks for something, or is
     *                   not known. A simulator skips the decisions in between.
     */
    public record Result(List<BurstAction> actions, Map<String, String> waitingReasons, Map<String, PoolStanding> pools, Instant quietUntil) {
        public Result {
            actions = List.copyOf(actions);
            waitingReasons = Map.copyOf(waitingReasons);
            pools = Map.copyOf(pools);
        }

        public Result(List<BurstAction> actions, Map<String, String> waitingReasons, Map<String, PoolStanding> pools) {
            this(actions, waitingReasons, pools, null);
        }
    }

    /**
     * How a cloud pool stands for bursting.
     *
     * @param status          {@code ok}, or why it launches nothing now
     * @param restingUntil    null unless the pool rests
     * @param usableOfferings offerings it may launch now
     * @param hiddenOfferings offerings hidden after failures
     */
    public record PoolStanding(String status, Instant restingUntil, int usableOfferings, int hiddenOfferings) {
    }

    /** An instance to launch: for which tasks that may burst now, and how many waiting tasks it should hold. */
    private record Chosen(Offering offering, List<TaskRef> forTasks, int expected) {
    }

    /** A replacement must hold at least this many times the waiting tasks the instance it replaces could. */
    static final int REPLACEMENT_GAIN = 2;

    private final BurstPlanner planner;

    public BurstDecision() {
        this(new BurstPlanner());
    }

    public BurstDecision(BurstPlanner planner) {
        this.planner = planner;
    }

    public Result decide(BurstSnapshot s) {
        return new Tick(s).run();
    }

    /** One decision's working state. */
    private final class Tick {
        final BurstSnapshot s;
        final Instant now;
        final Map<String, CloudPoolSpec> specs = new TreeMap<>();
        final List<BurstAction> actions = new ArrayList<>();
        final Map<String, String> reasons = new HashMap<>();
        /** Live instances per pool after this decision's terminations (launches add to it). */
        final Map<String, List<InstanceView>> live = new TreeMap<>();
        final Map<String, Integer> launched = new HashMap<>();
        final Map<String, Double> launchedSpend = new HashMap<>();
        /** Pools where this decision drains an idle instance (room is coming; no replacement needed). */
        final Set<String> drained = new HashSet<>();
        /** Instances this decision marks joined: too new to be drained for a replacement. */
        final Set<String> joinedNow = new HashSet<>();
        Holds holds;

        Tick(BurstSnapshot s) {
            this.s = s;
            this.now = s.now();
            s.pools().forEach(p -> specs.put(p.name(), p));
            for (CloudPoolSpec p : specs.values()) live.put(p.name(), new ArrayList<>());
            s.instances().stream()
                    .filter(i -> specs.containsKey(i.pool()) && i.state().live())
                    .sorted(Comparator.comparing(InstanceView::requestedAt).thenComparing(InstanceView::id))
                    .forEach(i -> live.get(i.pool()).add(i));
        }

        Result run() {
            List<LaunchOutcome> history = new ArrayList<>(s.history());
            history.addAll(joinWatch());
            holds = Holds.from(history, specs, s.brokerAddress(), now);
            announceNewHolds(history.subList(s.history().size(), history.size()));
            scaleDown();
            List<WaitingTask> waiting = burstable();
            List<WaitingTask> left = intoComingCapacity(waiting);
            List<TaskRef> uncovered = launch(left);
            replace(left, uncovered);
            return new Result(actions, reasons, standings(), actions.isEmpty() ? quietUntil(waiting) : null);
        }

        /** The first time a timer of this snapshot runs out: what {@link Result#quietUntil} says. */
        private Instant quietUntil(List<WaitingTask> waiting) {
            Instant first = Instant.MAX;
            for (List<InstanceView> instances : live.values()) {
                for (InstanceView i : instances) {
                    CloudPoolSpec spec = specs.get(i.pool());
                    if (i.state() == InstanceState.PROVISIONING && i.launchedAt() != null) first = earliest(first, i.launchedAt().plus(spec.joinTimeout()));
                    if (i.idleSince() != null) first = earliest(first, i.idleSince().plus(spec.scaleDownAfter()));
                }
            }
            for (WaitingTask w : waiting) {
                if (!w.waitingCanHelp()) continue;
                for (String p : w.demand().pools()) first = earliest(first, w.queuedAt().plus(w.burstAfter(specs.get(p).burstAfter())));
            }
            return earliest(first, holds.earliestEnd());
        }

        /** The earlier of the two, of those after now. */
        private Instant earliest(Instant a, Instant b) {
            if (b == null || !b.isAfter(now)) return a;
            return b.isBefore(a) ? b : a;
        }

        // ---- join watch -----------------------------------------------------------------------

        /** Joins connected instances, fails those past their join timeout; returns the new failures. */
        private List<LaunchOutcome> joinWatch() {
            List<LaunchOutcome> failures = new ArrayList<>();
            for (List<InstanceView> instances : live.values()) {
                for (InstanceView i : List.copyOf(instances)) {
                    if (i.state() != InstanceState.PROVISIONING) continue;
                    CloudPoolSpec spec = specs.get(i.pool());
                    if (i.agentConnected()) {
                        actions.add(new BurstAction.MarkJoined(i.id()));
                        instances.set(instances.indexOf(i), joined(i));
                        joinedNow.add(i.id());
                    } else if (i.tasksOnNode() == 0 && i.launchedAt() != null && !now.isBefore(i.launchedAt().plus(spec.joinTimeout()))) {
                        String why = "never joined within " + human(spec.joinTimeout());
                        actions.add(new BurstAction.Terminate(i.id(), InstanceState.FAILED, ReasonCode.NEVER_JOINED, why));
                        failures.add(new LaunchOutcome(i.pool(), i.offeringId(), now, LaunchOutcome.Kind.NEVER_JOINED, why));
                        instances.remove(i);
                    }
                }
            }
            return failures;
        }

        /** The instance as it is once joined: the scheduler may give it work from now on. */
        private InstanceView joined(InstanceView i) {
            return new InstanceView(i.id(), i.pool(), i.nodeName(), i.offeringId(), i.shape(), i.spot(), i.priceUsdPerHour(),
                    InstanceState.JOINED, i.requestedAt(), i.launchedAt(), true, i.tasksOnNode(), null, i.forJobs(), i.expectedTasks(),
                    i.decision());
        }

        /** Says what this decision's own failures hide or rest, so the shell can record and log it. */
        private void announceNewHolds(List<LaunchOutcome> fresh) {
            Set<String> offerings = new HashSet<>();
            Set<String> pools = new HashSet<>();
            for (LaunchOutcome o : fresh) {
                Holds.Hold h = holds.offering(o.offeringId());
                if (h != null && offerings.add(o.offeringId())) actions.add(new BurstAction.HideOffering(o.offeringId(), h.until(), h.reason()));
                Holds.Hold p = holds.pool(o.pool());
                if (p != null && pools.add(o.pool())) actions.add(new BurstAction.RestPool(o.pool(), p.until(), p.reason()));
            }
        }

        // ---- scale down -----------------------------------------------------------------------

        private void scaleDown() {
            for (Map.Entry<String, List<InstanceView>> e : live.entrySet()) {
                CloudPoolSpec spec = specs.get(e.getKey());
                List<InstanceView> instances = e.getValue();
                long joined = instances.stream().filter(i -> i.state() == InstanceState.JOINED).count();
                for (InstanceView i : List.copyOf(instances)) {
                    if (i.state() == InstanceState.DRAINING && i.tasksOnNode() == 0) {
                        actions.add(new BurstAction.Terminate(i.id(), InstanceState.TERMINATED, ReasonCode.DRAINED, "drained: its node holds no work"));
                        instances.remove(i);
                    } else if (i.state() == InstanceState.JOINED && joined > spec.minNodes() && idleFor(i, spec.scaleDownAfter())) {
                        actions.add(new BurstAction.Drain(i.id(), ReasonCode.IDLE, "idle for " + human(spec.scaleDownAfter())));
                        drained.add(i.pool());
                        joined--;
                    }
                }
            }
        }

        private boolean idleFor(InstanceView i, Duration d) {
            return i.tasksOnNode() == 0 && i.idleSince() != null && !now.isBefore(i.idleSince().plus(d));
        }

        // ---- demand -----------------------------------------------------------------------------

        /**
         * Waiting tasks that some cloud pool could take, with their pools narrowed to the cloud
         * pools they may use, in queue order. Tasks that may burst only later say so.
         */
        private List<WaitingTask> burstable() {
            List<WaitingTask> out = new ArrayList<>();
            List<WaitingTask> sorted = new ArrayList<>(s.waiting());
            sorted.sort(Comparator.comparing(WaitingTask::queuedAt).thenComparing(w -> w.demand().task()));
            // Tasks of one job ask alike: the narrowing is worked out once per (pools, jurisdictions, spot) asked for.
            Map<List<Object>, Set<String>> narrowed = new HashMap<>();
            for (WaitingTask w : sorted) {
                Demand d = w.demand();
                Set<String> pools = narrowed.computeIfAbsent(List.of(d.pools(), d.jurisdictions(), d.spotTolerant()), k -> {
                    Set<String> mayUse = new java.util.TreeSet<>();
                    for (CloudPoolSpec p : specs.values()) {
                        if (d.mayRunIn(p.name(), p.jurisdiction(), false) || d.mayRunIn(p.name(), p.jurisdiction(), true)) mayUse.add(p.name());
                    }
                    return Set.copyOf(mayUse);
                });
                if (pools.isEmpty()) continue;
                out.add(pools.equals(d.pools()) ? w : w.withDemand(d.withPools(pools)));
            }
            return out;
        }

        /** The demand as it may burst now: pools narrowed to those whose burst-after it has waited out; null if none. */
        private Demand eligibleNow(WaitingTask w) {
            if (!w.waitingCanHelp()) return w.demand();
            Set<String> pools = null;
            for (String p : w.demand().pools()) {
                if (!now.isBefore(w.queuedAt().plus(w.burstAfter(specs.get(p).burstAfter())))) {
                    if (pools == null) pools = new java.util.TreeSet<>();
                    pools.add(p);
                }
            }
            if (pools == null) return null;
            return pools.size() == w.demand().pools().size() ? w.demand() : w.demand().withPools(pools);
        }

        // ---- coming capacity ------------------------------------------------------------------

        /**
         * Fits waiting tasks (queue order) into instances on their way: first each instance takes
         * tasks of the jobs it was launched for, then any task that fits, first fit. Returns the
         * tasks left. An instance on its way that holds none of them and whose jobs have no task
         * waiting any more (cancelled, finished, placed elsewhere) is no longer needed and is
         * terminated; one whose jobs still wait is kept, so a freed on-prem node does not make
         * capacity churn.
         */
        private List<WaitingTask> intoComingCapacity(List<WaitingTask> waiting) {
            List<InstanceView> coming = new ArrayList<>();
            for (List<InstanceView> instances : live.values()) {
                for (InstanceView i : instances) if (i.onItsWay()) coming.add(i);
            }
            if (coming.isEmpty()) return waiting;
            long[][] room = new long[coming.size()][];
            int[] held = new int[coming.size()];
            for (int i = 0; i < coming.size(); i++) {
                Resources r = coming.get(i).shape();
                room[i] = new long[] {r.cpuMillis(), r.memoryMib(), r.gpus()};
            }
            Set<String> waitingJobs = new HashSet<>();
            boolean[] placed = new boolean[waiting.size()];
            for (int pass = 0; pass < 2; pass++) {
                for (int t = 0; t < waiting.size(); t++) {
                    if (placed[t]) continue;
                    Demand d = waiting.get(t).demand();
                    waitingJobs.add(d.task().jobId());
                    for (int i = 0; i < coming.size(); i++) {
                        InstanceView c = coming.get(i);
                        if (pass == 0 && !c.forJobs().contains(d.task().jobId())) continue;
                        if (!fits(d, c, room[i])) continue;
                        Resources q = d.request();
                        room[i][0] -= q.cpuMillis();
                        room[i][1] -= q.memoryMib();
                        room[i][2] -= q.gpus();
                        held[i]++;
                        placed[t] = true;
                        reasons.putIfAbsent(d.task().jobId(), "bursting: " + c.nodeName() + " is on its way (" + c.decision() + ")");
                        break;
                    }
                }
            }
            List<WaitingTask> left = new ArrayList<>();
            for (int t = 0; t < waiting.size(); t++) if (!placed[t]) left.add(waiting.get(t));
            for (int i = 0; i < coming.size(); i++) {
                InstanceView c = coming.get(i);
                boolean itsJobsWait = c.forJobs().stream().anyMatch(waitingJobs::contains);
                if (held[i] == 0 && !itsJobsWait && c.tasksOnNode() == 0) {
                    actions.add(new BurstAction.Terminate(c.id(), InstanceState.TERMINATED, ReasonCode.NOT_NEEDED, "no waiting task needs it any more"));
                    live.get(c.pool()).remove(c);
                }
            }
            return left;
        }

        private boolean fits(Demand d, InstanceView c, long[] room) {
            Resources q = d.request();
            return d.mayRunOn(c.pool(), specs.get(c.pool()).jurisdiction(), c.spot(), c.offeringId())
                    && q.cpuMillis() <= room[0] && q.memoryMib() <= room[1] && q.gpus() <= room[2];
        }

        // ---- launch -----------------------------------------------------------------------------

        /** Plans and launches for the tasks that may burst now; returns the eligible tasks left uncovered. */
        private List<TaskRef> launch(List<WaitingTask> left) {
            List<Demand> eligible = new ArrayList<>();
            List<Demand> queue = new ArrayList<>();
            for (WaitingTask w : left) {
                Demand now = eligibleNow(w);
                queue.add(w.demand());
                if (now != null) {
                    eligible.add(now);
                } else if (!reasons.containsKey(w.demand().task().jobId())) {
                    long waited = Duration.between(w.queuedAt(), this.now).toSeconds();
                    reasons.put(w.demand().task().jobId(), "may burst after waiting " + human(minBurstAfter(w)) + " (waited " + waited + " s)");
                }
            }
            if (eligible.isEmpty()) return List.of();
            List<Offering> usable = usableOfferings();
            List<PoolLimits> limits = limits(Map.of());
            ProvisionPlan plan = planner.plan(eligible, usable, limits);
            List<Chosen> chosen = null;
            if (queue.size() > eligible.size()) chosen = sizedForTheQueue(plan, eligible, queue, usable, limits);
            boolean sizedForQueue = chosen != null;
            if (chosen == null) {
                chosen = plan.instances().stream().map(i -> new Chosen(i.offering(), i.tasks(), i.tasks().size())).toList();
            }
            Set<TaskRef> covered = new HashSet<>();
            for (Chosen c : chosen) {
                Offering o = c.offering();
                String why = String.format(Locale.ROOT, "%s%s in %s at %s USD/h, expected to hold %d waiting task(s)%s", o.instanceType(),
                        o.spot() ? " (spot)" : "", o.zone(), price(o.priceUsdPerHour()), c.expected(),
                        sizedForQueue ? " (sized for the queue: the pool's limits will bind)" : "");
                actions.add(new BurstAction.Launch(o, c.forTasks(), c.expected(), why));
                launched.merge(o.pool(), 1, Integer::sum);
                launchedSpend.merge(o.pool(), o.priceUsdPerHour(), Double::sum);
                covered.addAll(c.forTasks());
                for (TaskRef t : c.forTasks()) reasons.putIfAbsent(t.jobId(), "bursting: launching " + why);
            }
            List<TaskRef> uncovered = new ArrayList<>();
            for (Demand d : eligible) {
                if (covered.contains(d.task())) continue;
                uncovered.add(d.task());
                // One reason per job: the first of its tasks gives it (a long queue of one job would otherwise explain itself per task).
                if (!reasons.containsKey(d.task().jobId())) reasons.put(d.task().jobId(), "not bursting: " + whyNotCovered(d, plan));
            }
            return uncovered;
        }

        /**
         * When the tasks left after {@code plan} would not all fit within the pools' limits, plans
         * for the whole queue instead (the planner covers the most tasks the limits allow, so it
         * picks larger instances) and launches those of its instances that the eligible tasks
         * need. Null when the limits do not bind.
         */
        private List<Chosen> sizedForTheQueue(ProvisionPlan plan, List<Demand> eligible, List<Demand> queue, List<Offering> usable,
                                              List<PoolLimits> limits) {
            Set<TaskRef> coveredNow = new HashSet<>();
            Map<String, Integer> used = new HashMap<>();
            Map<String, Double> spent = new HashMap<>();
            for (ProvisionPlan.Instance i : plan.instances()) {
                coveredNow.addAll(i.tasks());
                used.merge(i.offering().pool(), 1, Integer::sum);
                spent.merge(i.offering().pool(), i.offering().priceUsdPerHour(), Double::sum);
            }
            List<Demand> rest = queue.stream().filter(d -> !coveredNow.contains(d.task())).toList();
            List<PoolLimits> after = limits.stream().map(l -> new PoolLimits(l.pool(), l.maxNewInstances() - used.getOrDefault(l.pool(), 0),
                    l.spendHeadroomUsdPerHour() - spent.getOrDefault(l.pool(), 0.0), l.allowedInstanceTypes())).toList();
            ProvisionPlan later = planner.plan(rest, usable, after);
            if (later.coveredTasks() == rest.size()) return null; // the limits do not bind: cheapest for now is right
            ProvisionPlan whole = planner.plan(queue, usable, limits);
            // Launch the whole plan's instances that the eligible tasks fill, first fit in its order.
            Map<Integer, List<TaskRef>> forNow = new TreeMap<>();
            long[][] room = new long[whole.instances().size()][];
            for (int i = 0; i < room.length; i++) {
                Resources r = whole.instances().get(i).offering().shape();
                room[i] = new long[] {r.cpuMillis(), r.memoryMib(), r.gpus()};
            }
            int coveredByWhole = 0;
            for (Demand d : eligible) {
                for (int i = 0; i < room.length; i++) {
                    Offering o = whole.instances().get(i).offering();
                    Resources q = d.request();
                    if (d.mayUse(o) && q.cpuMillis() <= room[i][0] && q.memoryMib() <= room[i][1] && q.gpus() <= room[i][2]) {
                        room[i][0] -= q.cpuMillis();
                        room[i][1] -= q.memoryMib();
                        room[i][2] -= q.gpus();
                        forNow.computeIfAbsent(i, k -> new ArrayList<>()).add(d.task());
                        coveredByWhole++;
                        break;
                    }
                }
            }
            if (coveredByWhole < plan.coveredTasks()) return null;
            List<Chosen> chosen = new ArrayList<>();
            forNow.forEach((i, tasks) -> {
                ProvisionPlan.Instance w = whole.instances().get(i);
                chosen.add(new Chosen(w.offering(), tasks, Math.max(tasks.size(), w.tasks().size())));
            });
            return chosen;
        }

        private Duration minBurstAfter(WaitingTask w) {
            return w.demand().pools().stream().map(p -> w.burstAfter(specs.get(p).burstAfter())).min(Duration::compareTo).orElse(Duration.ZERO);
        }

        /** Offerings of pools that do not rest, not hidden, of allowed types. */
        private List<Offering> usableOfferings() {
            List<Offering> out = new ArrayList<>();
            for (Offering o : s.offerings()) {
                CloudPoolSpec spec = specs.get(o.pool());
                if (spec == null || holds.pool(o.pool()) != null || holds.offering(o.id()) != null) continue;
                if (!spec.instanceTypes().isEmpty() && !spec.instanceTypes().contains(o.instanceType())) continue;
                out.add(o);
            }
            out.sort(Comparator.comparing(Offering::id));
            return out;
        }

        /** What each pool still allows, after what this decision launched and with {@code extra} headroom given back. */
        private List<PoolLimits> limits(Map<String, InstanceView> givenBack) {
            List<PoolLimits> out = new ArrayList<>();
            for (CloudPoolSpec p : specs.values()) {
                if (holds.pool(p.name()) != null) continue;
                List<InstanceView> mine = live.get(p.name());
                InstanceView back = givenBack.get(p.name());
                int count = mine.size() + launched.getOrDefault(p.name(), 0) - (back == null ? 0 : 1);
                double spend = mine.stream().mapToDouble(InstanceView::priceUsdPerHour).sum() + launchedSpend.getOrDefault(p.name(), 0.0)
                        - (back == null ? 0 : back.priceUsdPerHour());
                out.add(new PoolLimits(p.name(), Math.max(0, p.maxNodes() - count),
                        p.spendCapped() ? Math.max(0, p.maxSpendUsdPerHour() - spend) : Double.POSITIVE_INFINITY, p.instanceTypes()));
            }
            return out;
        }

        /** Why no instance was planned for a task that may burst: the limit or hold that binds in each pool it may use. */
        private String whyNotCovered(Demand d, ProvisionPlan plan) {
            String planner = plan.notCovered().get(d.task());
            List<String> why = new ArrayList<>();
            for (String pool : d.pools()) {
                CloudPoolSpec p = specs.get(pool);
                Holds.Hold rest = holds.pool(pool);
                boolean fits = s.offerings().stream().anyMatch(o -> o.pool().equals(pool) && d.mayUse(o));
                if (!fits) continue;
                if (rest != null) {
                    why.add("pool " + pool + " rests until " + rest.until().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + " after: "
                            + rest.reason());
                    continue;
                }
                int count = live.get(pool).size() + launched.getOrDefault(pool, 0);
                double spend = live.get(pool).stream().mapToDouble(InstanceView::priceUsdPerHour).sum() + launchedSpend.getOrDefault(pool, 0.0);
                boolean anyUsable = s.offerings().stream().anyMatch(o -> o.pool().equals(pool) && d.mayUse(o) && holds.offering(o.id()) == null
                        && (p.instanceTypes().isEmpty() || p.instanceTypes().contains(o.instanceType())));
                if (count >= p.maxNodes()) {
                    why.add("max-nodes " + p.maxNodes() + " reached in " + pool);
                } else if (p.spendCapped() && s.offerings().stream().noneMatch(o -> o.pool().equals(pool) && d.mayUse(o)
                        && o.priceUsdPerHour() <= p.maxSpendUsdPerHour() - spend + 1e-9)) {
                    why.add("spend cap " + price(p.maxSpendUsdPerHour()) + " USD/h reached in " + pool + " (" + price(spend) + " USD/h in use)");
                } else if (!anyUsable) {
                    why.add("every offering of " + pool + " that fits is hidden after failures or not allowed");
                }
            }
            if (why.isEmpty()) {
                String unreadable = d.pools().stream().filter(s.unreadableOfferings()::containsKey)
                        .map(p -> "pool " + p + " cannot read its offerings: " + s.unreadableOfferings().get(p))
                        .reduce((a, b) -> a + "; " + b).orElse(null);
                if (unreadable != null) return unreadable;
                return planner != null ? planner : "no cloud offering fits it";
            }
            return String.join("; ", why);
        }

        // ---- replace ------------------------------------------------------------------------------

        /**
         * A node limit binds while tasks wait: drain the pool's smallest joined instance if a
         * larger offering would hold at least {@link #REPLACEMENT_GAIN} times as many of the
         * waiting tasks. One replacement per pool at a time, and none while instances are on
         * their way there.
         */
        private void replace(List<WaitingTask> left, List<TaskRef> uncovered) {
            if (uncovered.isEmpty()) return;
            Set<TaskRef> stuck = new HashSet<>(uncovered);
            List<Offering> usable = usableOfferings();
            for (CloudPoolSpec p : specs.values()) {
                List<InstanceView> mine = live.get(p.name());
                if (holds.pool(p.name()) != null || mine.size() + launched.getOrDefault(p.name(), 0) < p.maxNodes()) continue;
                if (drained.contains(p.name()) || mine.stream().anyMatch(i -> i.state() == InstanceState.DRAINING || i.onItsWay())) continue;
                List<Demand> demand = new ArrayList<>();
                for (WaitingTask w : left) {
                    if (stuck.contains(w.demand().task()) && w.demand().pools().contains(p.name())) demand.add(w.demand());
                }
                if (demand.isEmpty()) continue;
                InstanceView smallest = mine.stream().filter(i -> i.state() == InstanceState.JOINED && !joinedNow.contains(i.id()))
                        .min(Comparator.comparingLong((InstanceView i) -> i.shape().cpuMillis()).thenComparingLong(i -> i.shape().memoryMib())
                                .thenComparing(InstanceView::id))
                        .orElse(null);
                long joined = mine.stream().filter(i -> i.state() == InstanceState.JOINED).count();
                if (smallest == null || joined - 1 < p.minNodes()) continue;
                List<PoolLimits> one = limits(Map.of(p.name(), smallest)).stream().filter(l -> l.pool().equals(p.name()))
                        .map(l -> new PoolLimits(l.pool(), Math.min(1, l.maxNewInstances()), l.spendHeadroomUsdPerHour(), l.allowedInstanceTypes()))
                        .toList();
                ProvisionPlan better = planner.plan(demand, usable.stream().filter(o -> o.pool().equals(p.name())).toList(), one);
                if (better.instances().isEmpty()) continue;
                ProvisionPlan.Instance candidate = better.instances().get(0);
                int smallHolds = holds(smallest, demand);
                if (candidate.tasks().size() >= REPLACEMENT_GAIN * Math.max(1, smallHolds)
                        && candidate.offering().shape().cpuMillis() > smallest.shape().cpuMillis()) {
                    actions.add(new BurstAction.Drain(smallest.id(), ReasonCode.MAKING_ROOM, String.format(Locale.ROOT,
                            "to make room for a larger instance: max-nodes %d reached in %s while %d task(s) wait; %s would hold %d of them, this one %d",
                            p.maxNodes(), p.name(), demand.size(), candidate.offering().instanceType(), candidate.tasks().size(), smallHolds)));
                }
            }
        }

        /** How many of {@code demand} an empty instance of this one's shape would hold, first fit. */
        private int holds(InstanceView i, List<Demand> demand) {
            long cpu = i.shape().cpuMillis();
            long mem = i.shape().memoryMib();
            long gpu = i.shape().gpus();
            int n = 0;
            for (Demand d : demand) {
                Resources q = d.request();
                if (!d.mayRunOn(i.pool(), specs.get(i.pool()).jurisdiction(), i.spot(), i.offeringId())) continue;
                if (q.cpuMillis() <= cpu && q.memoryMib() <= mem && q.gpus() <= gpu) {
                    cpu -= q.cpuMillis();
                    mem -= q.memoryMib();
                    gpu -= q.gpus();
                    n++;
                }
            }
            return n;
        }

        // ---- standings ------------------------------------------------------------------------------

        private Map<String, PoolStanding> standings() {
            Map<String, PoolStanding> out = new LinkedHashMap<>();
            for (CloudPoolSpec p : specs.values()) {
                int usable = 0;
                int hidden = 0;
                for (Offering o : s.offerings()) {
                    if (!o.pool().equals(p.name())) continue;
                    if (holds.offering(o.id()) != null) hidden++;
                    else usable++;
                }
                Holds.Hold rest = holds.pool(p.name());
                String status;
                if (rest != null) {
                    status = "resting until " + rest.until().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + " after: " + rest.reason();
                } else if (s.unreadableOfferings().containsKey(p.name())) {
                    status = "cannot read its offerings: " + s.unreadableOfferings().get(p.name());
                } else if (usable == 0) {
                    status = hidden > 0 ? "no offering can be had now (" + hidden + " hidden after failures)" : "no offering can be had now";
                } else {
                    status = hidden > 0 ? "ok (" + hidden + " offering(s) hidden after failures)" : "ok";
                }
                out.put(p.name(), new PoolStanding(status, rest == null ? null : rest.until(), rest == null ? usable : 0, hidden));
            }
            return out;
        }
    }

    static String human(Duration d) {
        long s = d.toSeconds();
        if (s % 3600 == 0 && s >= 3600) return (s / 3600) + " h";
        if (s % 60 == 0 && s >= 60) return (s / 60) + " min";
        return s + " s";
    }

    static String price(double usdPerHour) {
        return String.format(Locale.ROOT, "%.4f", usdPerHour);
    }
}
