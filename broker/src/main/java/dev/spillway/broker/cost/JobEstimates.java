package dev.spillway.broker.cost;

import dev.spillway.api.Usd;
import dev.spillway.api.v1.EstimateJobResponse;
import dev.spillway.api.v1.EstimatedPurchase;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.agents.AgentSession;
import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.burst.CloudPool;
import dev.spillway.broker.burst.CloudPools;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.policy.Policies;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.store.InstanceStore;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.core.burst.BurstPlanner;
import dev.spillway.core.burst.Demand;
import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.burst.PoolLimits;
import dev.spillway.core.burst.ProvisionPlan;
import dev.spillway.core.cost.Billing;
import dev.spillway.core.cost.Ledger;
import dev.spillway.core.cost.Quote;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.policies.rules.BurstVerdict;
import dev.spillway.policies.rules.JobFacts;
import dev.spillway.policies.rules.PlacementContext;
import dev.spillway.policies.rules.PlacementRules;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.rules.TenantFacts;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Quotes ({@code EstimateJob}): a job admitted as SubmitJob would admit it, placed as the broker
 * would place it now, storing nothing. The scheduler, with the policies in force, places
 * the job's tasks on the connected nodes as they are allocated now; the burst planner, with the
 * burst rules, buys for the rest within each cloud pool's limits; {@link Quote} prices both.
 * Work already queued is not counted ahead of the job: the quote is of the capacity free now.
 */
@ApplicationScoped
public class JobEstimates {

    /** How long a cloud pool's instances usually take from launch to a joined agent, when the pool does not simulate its boot. */
    static final Duration CLOUD_BOOT = Duration.ofSeconds(90);
    /** From a local instance's boot delay to its agent's joining. */
    static final Duration AGENT_START = Duration.ofSeconds(2);

    private final Policies policies;
    private final AgentSessions sessions;
    private final NodeStore nodes;
    private final CloudPools pools;
    private final InstanceStore instances;
    private final SchedulingLoop scheduling;
    private final RateCards rates;
    private final Map<String, dev.spillway.policies.rules.PoolFacts> poolFacts;
    private final Clock clock;
    private final dev.spillway.broker.leader.Leadership leadership;

    public JobEstimates(Policies policies, AgentSessions sessions, NodeStore nodes, CloudPools pools, InstanceStore instances,
                        SchedulingLoop scheduling, BrokerConfig config, Clock clock, dev.spillway.broker.leader.Leadership leadership) {
        this.leadership = leadership;
        this.policies = policies;
        this.sessions = sessions;
        this.nodes = nodes;
        this.pools = pools;
        this.instances = instances;
        this.scheduling = scheduling;
        this.rates = RateCards.of(config);
        this.poolFacts = Policies.poolFacts(config);
        this.clock = clock;
    }

    /** The quote of a job as admission admitted it (see {@code Submissions.admitted}): read fresh, on a worker thread. */
    public Uni<EstimateJobResponse> estimate(JobSpec admitted) {
        return read().emitOn(Infrastructure.getDefaultWorkerPool()).map(r -> response(quote(new Gathered(admitted, r.allocated(), r.live(), r.connected()))));
    }

    /** The nodes' allocation and the live instances as the database has them now (and kept for admission's quotes). */
    private Uni<Reading> read() {
        Instant now = clock.instant();
        // The leader holds the agents' streams; another broker (admission's quotes) places on the nodes the database lists.
        Uni<List<NodeStore.Connected>> connected = leadership.isLeader() ? Uni.createFrom().nullItem() : nodes.connected();
        return connected.flatMap(fromDatabase -> nodes.allocations().flatMap(allocated -> instances.live().map(live -> {
            Reading fresh = new Reading(now, allocated, live, fromDatabase, new java.util.concurrent.ConcurrentHashMap<>());
            lastReading = fresh;
            return fresh;
        })));
    }

    /** How long admission reuses one reading of the nodes' allocation and the live instances for its quotes. */
    static final Duration ADMISSION_READING = Duration.ofSeconds(1);
    private volatile Reading lastReading;

    /**
     * A reading; {@code connected} is null on the leader (it places on its agents' sessions). {@code quotes} holds admission's
     * quotes made from it, so that the jobs of one template, submitted together, are quoted once per reading.
     */
    private record Reading(Instant at, Map<String, NodeStore.Allocation> allocated, List<InstanceStore.InstanceRow> live,
                           List<NodeStore.Connected> connected, Map<Quoted, Quote.Result> quotes) {
    }

    /** What a quote from one reading depends on besides that reading: the admitted spec and the version of the policy set in force. */
    private record Quoted(JobSpec spec, long policyVersion) {
    }

    /** How many quotes one reading keeps (distinct specs in one second beyond it are quoted each time). */
    private static final int QUOTES_PER_READING = 1024;

    /**
     * The quote of an admitted job, kept with it and reserved by its budgets: as {@link #estimate}, from a reading of the
     * nodes and instances at most {@link #ADMISSION_READING} old (admission quotes many jobs a second), made once per
     * reading for identical specs under one policy set. A quote made is made on a worker thread; one known already is
     * the item at once.
     */
    public Uni<Quote.Result> quoteAdmitted(JobSpec admitted) {
        Reading r = lastReading;
        Instant now = clock.instant();
        Uni<Reading> reading = r != null && Duration.between(r.at(), now).compareTo(ADMISSION_READING) < 0 ? Uni.createFrom().item(r) : read();
        Quoted key = new Quoted(admitted, policies.inForce().version());
        if (r != null && Duration.between(r.at(), now).compareTo(ADMISSION_READING) < 0) {
            Quote.Result known = r.quotes().get(key);
            if (known != null) return Uni.createFrom().item(known);
        }
        return reading.emitOn(Infrastructure.getDefaultWorkerPool()).map(read -> {
            Quote.Result known = read.quotes().get(key);
            if (known != null) return known;
            Quote.Result made = quote(new Gathered(admitted, read.allocated(), read.live(), read.connected()));
            if (read.quotes().size() < QUOTES_PER_READING) read.quotes().put(key, made);
            return made;
        });
    }

    private record Gathered(JobSpec spec, Map<String, NodeStore.Allocation> allocated, List<InstanceStore.InstanceRow> live,
                            List<NodeStore.Connected> connected) {
    }

    private Quote.Result quote(Gathered g) {
        JobSpec spec = g.spec();
        Instant now = clock.instant();
        TaskShape shape = JobCatalog.shapeOf(spec).withFacts("estimate");
        Resources request = shape.request();
        PolicySet set = policies.inForce().set();
        JobFacts job = Policies.jobFacts(spec);
        TenantFacts tenant = set == null ? TenantFacts.named(job.tenant())
                : set.tenantFacts(job.tenant(), scheduling.tenantUsage().getOrDefault(job.tenant(), Map.of()));

        // Slots now: the scheduler places the job's tasks on the connected nodes as they are allocated.
        List<NodeView> views = new ArrayList<>();
        if (g.connected() == null) {
            for (AgentSession s : sessions.connected()) {
                NodeStore.Allocation a = g.allocated().get(s.node());
                views.add(s.view(a == null ? Resources.ZERO : a.resources(), sessions.cordoned(s.node())));
            }
        } else {
            for (NodeStore.Connected n : g.connected()) {
                NodeStore.Allocation a = g.allocated().get(n.name());
                views.add(new NodeView(n.name(), n.pool(), n.capacity(), a == null ? Resources.ZERO : a.resources(), n.labels(), !n.draining()));
            }
        }
        Scheduler scheduler = Scheduler.standard(Math.max(1, views.size()));
        if (set != null) {
            PlacementRules rules = set.placement(new PlacementContext(now, r -> job, t -> tenant, poolFacts, pools.boughtAs()));
            scheduler = Scheduler.standard(Math.max(1, views.size()), List.of(rules.filter()), rules.scorers());
        }
        List<PendingTask> tasks = new ArrayList<>(spec.getTaskCount());
        for (int i = 0; i < spec.getTaskCount(); i++) tasks.add(new PendingTask(new TaskRef("estimate", i, 0), shape, spec.getPriority(), now.toEpochMilli()));
        Plan plan = scheduler.plan(new Snapshot(views, tasks));
        Map<String, NodeView> byName = new HashMap<>();
        for (NodeView v : views) byName.put(v.name(), v);
        Map<String, Offering> bought = pools.byId();
        Map<String, int[]> perNode = new LinkedHashMap<>();
        for (Placement p : plan.placements()) perNode.computeIfAbsent(p.node(), n -> new int[1])[0]++;
        List<Quote.Slots> slots = new ArrayList<>();
        perNode.forEach((node, n) -> {
            NodeView v = byName.get(node);
            String offeringId = Offering.idOfNode(v.pool(), v.labels());
            Offering o = offeringId == null ? null : bought.get(offeringId);
            double usdPerTaskHour;
            if (o != null) {
                usdPerTaskHour = o.priceUsdPerHour() * dominantShare(request, v.capacity());
            } else {
                Ledger.Rates r = rates.of(v.pool());
                usdPerTaskHour = r == null ? 0 : r.usdPerHour(request);
            }
            slots.add(new Quote.Slots(v.pool(), n[0], usdPerTaskHour, o != null));
        });
        slots.sort(java.util.Comparator.comparingDouble(Quote.Slots::usdPerTaskHour));

        // The rest: what the burst planner would buy, within the pools' limits and the burst rules.
        int unplaced = plan.unplaced().size();
        List<Quote.Purchase> purchases = List.of();
        Map<String, Quote.PoolTimes> times = new HashMap<>();
        if (unplaced > 0 && !pools.all().isEmpty()) {
            Map<String, String> refused = new HashMap<>();
            List<Offering> offerings = new ArrayList<>();
            Duration burstAfter = set == null ? null : set.burstAfter(job, tenant, now).orElse(null);
            for (CloudPool pool : pools.all().values()) {
                offerings.addAll(pool.offerings());
                times.put(pool.name(), times(pool.settings(), burstAfter));
            }
            if (set != null) {
                for (Offering o : offerings) {
                    BurstVerdict v = set.burst(job, tenant, o, now);
                    if (!v.allowed()) refused.put(o.id(), v.rule() + ": " + v.reason());
                }
            }
            List<Demand> demand = new ArrayList<>(unplaced);
            for (Plan.Unplaced u : plan.unplaced()) {
                demand.add(new Demand(u.task().ref(), request, shape.jurisdictions(), shape.spotTolerant(), shape.pools(), refused));
            }
            ProvisionPlan buying = new BurstPlanner().plan(demand, offerings, limits(g.live()));
            purchases = Quote.purchases(buying);
        }
        var t = spec.getTask();
        Quote.Job quoted = new Quote.Job(spec.getTaskCount(), request, t.hasMaxRuntime() ? duration(t.getMaxRuntime()) : null,
                t.hasExpectedRuntime() ? duration(t.getExpectedRuntime()) : null, spec.getRetry().getMaxRetries());
        return Quote.of(quoted, slots, purchases, times, Billing.PER_SECOND_MINUTE_MINIMUM, "expectedRuntime", later(shape, job, tenant, set, now),
                egress(set, job, perNode.keySet(), byName, purchases));
    }

    /**
     * What moving the job's datasets to the places it would run costs (the policy set's Dataset and EgressPrices
     * documents): once per place, as data gravity counts it; 0 without datasets or a policy set.
     */
    private long egress(PolicySet set, JobFacts job, java.util.Set<String> nodes, Map<String, NodeView> byName, List<Quote.Purchase> purchases) {
        if (set == null || job.datasets().isEmpty()) return 0;
        java.util.Set<String> places = new java.util.TreeSet<>();
        for (String node : nodes) {
            NodeView v = byName.get(node);
            dev.spillway.policies.rules.PoolFacts f = poolFacts.getOrDefault(v.pool(), new dev.spillway.policies.rules.PoolFacts(v.pool(), "on-prem", "", null, 0));
            places.add(f.location(v.labels().get(dev.spillway.policies.rules.PoolFacts.SITE_LABEL)));
        }
        for (Quote.Purchase p : purchases) {
            CloudPool pool = pools.get(p.offering().pool());
            String kind = pool == null ? "local" : pool.settings().kind();
            places.add(new dev.spillway.policies.rules.PoolFacts(p.offering().pool(), kind, p.offering().region(), null, 0).location(null));
        }
        double usd = 0;
        for (String place : places) usd += set.dataMove(job, place).usd();
        return Math.round(usd * 1_000_000);
    }

    /**
     * The dearest way a task with no slot now could run later: the rate card of an on-prem pool it may use, or a whole
     * instance of the cheapest cloud offering that may hold it, whichever costs more; null when it could run nowhere known.
     */
    private Quote.Slots later(TaskShape shape, JobFacts job, TenantFacts tenant, PolicySet set, Instant now) {
        Quote.Slots dearest = null;
        for (String pool : shape.pools().isEmpty() ? rates.onPremPools() : shape.pools()) {
            Ledger.Rates r = rates.of(pool);
            if (r == null) continue; // a cloud pool
            double usd = r.usdPerHour(shape.request());
            if (dearest == null || usd > dearest.usdPerTaskHour()) dearest = new Quote.Slots(pool, 0, usd, false);
        }
        Quote.Slots cheapestCloud = null;
        for (CloudPool pool : pools.all().values()) {
            for (Offering o : pool.offerings()) {
                if (!o.shape().covers(shape.request()) || !new Demand(new TaskRef("later", 0, 0), shape.request(), shape.jurisdictions(),
                        shape.spotTolerant(), shape.pools()).mayUse(o)) continue;
                if (set != null && !set.burst(job, tenant, o, now).allowed()) continue;
                if (cheapestCloud == null || o.priceUsdPerHour() < cheapestCloud.usdPerTaskHour()) {
                    cheapestCloud = new Quote.Slots(o.pool(), 0, o.priceUsdPerHour(), true);
                }
            }
        }
        if (cheapestCloud != null && (dearest == null || cheapestCloud.usdPerTaskHour() > dearest.usdPerTaskHour())) return cheapestCloud;
        return dearest;
    }

    private List<PoolLimits> limits(List<InstanceStore.InstanceRow> live) {
        List<PoolLimits> out = new ArrayList<>();
        for (CloudPool pool : pools.all().values()) {
            int count = 0;
            double spend = 0;
            for (InstanceStore.InstanceRow r : live) {
                if (!r.pool().equals(pool.name()) || r.state() == InstanceState.TERMINATED || r.state() == InstanceState.FAILED) continue;
                count++;
                spend += r.priceUsdPerHour();
            }
            double cap = pool.spec().spendCapped() ? Math.max(0, pool.spec().maxSpendUsdPerHour() - spend) : Double.POSITIVE_INFINITY;
            out.add(new PoolLimits(pool.name(), Math.max(0, pool.spec().maxNodes() - count), cap,
                    java.util.Set.copyOf(pool.settings().instanceTypes().orElse(List.of()))));
        }
        return out;
    }

    /** A pool's timing; {@code burstAfter} from the policies when they set one for the job, else the pool's. */
    private static Quote.PoolTimes times(BrokerConfig.PoolSettings s, Duration burstAfter) {
        Duration boot = s.kind().equals("local") ? s.bootDelay().plus(AGENT_START) : CLOUD_BOOT;
        if (boot.compareTo(s.joinTimeout()) > 0) boot = s.joinTimeout();
        return new Quote.PoolTimes(burstAfter != null ? burstAfter : s.burstAfter(), boot, s.joinTimeout(), s.scaleDownAfter());
    }

    /** A task's largest fraction of the node's cpu, memory or gpus. */
    static double dominantShare(Resources request, Resources capacity) {
        double share = 0;
        if (capacity.cpuMillis() > 0) share = Math.max(share, (double) request.cpuMillis() / capacity.cpuMillis());
        if (capacity.memoryMib() > 0) share = Math.max(share, (double) request.memoryMib() / capacity.memoryMib());
        if (capacity.gpus() > 0) share = Math.max(share, (double) request.gpus() / capacity.gpus());
        return Math.min(1, share);
    }

    private static Duration duration(com.google.protobuf.Duration d) {
        return Duration.ofSeconds(d.getSeconds(), d.getNanos());
    }

    private static com.google.protobuf.Duration proto(Duration d) {
        return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
    }

    static EstimateJobResponse response(Quote.Result q) {
        EstimateJobResponse.Builder b = EstimateJobResponse.newBuilder().putAllPlacedNow(q.placedNow()).setBurst(q.burst()).setWaiting(q.waiting())
                .setUnboundedReason(q.unbounded()).setRuntimeBasis(switch (q.runtimeBasis()) {
                    case "expectedRuntime" -> dev.spillway.api.v1.RuntimeBasis.RUNTIME_BASIS_EXPECTED_RUNTIME;
                    case "maxRuntime" -> dev.spillway.api.v1.RuntimeBasis.RUNTIME_BASIS_MAX_RUNTIME;
                    default -> dev.spillway.api.v1.RuntimeBasis.RUNTIME_BASIS_NONE;
                });
        for (Quote.Purchase p : q.purchases()) {
            b.addPurchases(EstimatedPurchase.newBuilder().setOffering(p.offering().id()).setPool(p.offering().pool())
                    .setInstanceType(p.offering().instanceType()).setSpot(p.offering().spot()).setPricePerHour(Usd.of(p.offering().priceUsdPerHour()))
                    .setInstances(p.instances()).setTasks(p.tasks()));
        }
        if (q.expectedMicroUsd() != null) b.setExpectedCost(Usd.ofMicros(q.expectedMicroUsd()));
        if (q.notToExceedMicroUsd() != null) b.setNotToExceedCost(Usd.ofMicros(q.notToExceedMicroUsd()));
        if (q.expectedStart() != null) b.setExpectedStart(proto(q.expectedStart()));
        if (q.expectedFinish() != null) b.setExpectedFinish(proto(q.expectedFinish()));
        b.setEgressCost(Usd.ofMicros(q.egressMicroUsd()));
        return b.build();
    }
}
