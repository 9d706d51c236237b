package dev.spillway.policies.whatif;

import dev.spillway.core.burst.Demand;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.burst.WaitingTask;
import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.sim.Simulation;
import dev.spillway.policies.quota.Amounts;
import dev.spillway.policies.quota.CycleQuota;
import dev.spillway.policies.quota.Flavors;
import dev.spillway.policies.quota.QuotaResource;
import dev.spillway.policies.quota.TenantQuota;
import dev.spillway.policies.rules.AdmissionOutcome;
import dev.spillway.policies.rules.AdmissionResult;
import dev.spillway.policies.rules.JobFacts;
import dev.spillway.policies.rules.PlacementContext;
import dev.spillway.policies.rules.PlacementRules;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.rules.PoolFacts;
import dev.spillway.policies.rules.Residency;
import dev.spillway.policies.rules.TenantFacts;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A policy set as the simulator's {@link Simulation.Rules}: what the broker does with it, on a
 * simulated clock. Admission rules refuse jobs at arrival; each cycle places by the set's
 * placement rules, residency and tenant quotas (a plan's placements kept in order while they fit
 * the quotas, as the broker's loop does); burst rules decide what the burst decision may buy for a
 * waiting job, and its {@code burstAfter}. Every placement is checked against the job's residency
 * (the count of violations is what a replay reports; it must be 0). A null set places as the
 * broker does without policies.
 *
 * <p>Not replayed: preemption to reclaim lent quota (borrowed work runs to its end here), and fair
 * share ordering beyond the core's queue order.
 */
final class PolicyRules implements Simulation.Rules {

    private final PolicySet set;
    private final int candidateLimit;
    private final Map<String, PoolFacts> pools;
    private final Map<String, JobFacts> facts;
    private final Map<String, Offering> offeringsById;
    /** In the order given: what the quota allowance looks through. */
    private final List<Offering> offerings;
    private final Scheduler plain;
    private final Map<String, WaitingTerms> terms = new HashMap<>();
    private CycleQuota cycleQuota;
    /** This cycle's nodes by name, when it has a quota. */
    private Map<String, NodeView> cycleNodes = Map.of();
    private long violations;
    private final List<String> violationExamples = new ArrayList<>();
    private final Map<String, Long> peakBorrowedCpu = new TreeMap<>();
    private final Map<String, Long> placedByTenant = new TreeMap<>();

    private record WaitingTerms(Map<String, String> refused, Duration burstAfter) {
    }

    PolicyRules(PolicySet set, int candidateLimit, Map<String, PoolFacts> pools, Map<String, JobFacts> facts, List<Offering> offerings) {
        this.set = set;
        this.candidateLimit = candidateLimit;
        this.pools = Map.copyOf(pools);
        this.facts = facts;
        Map<String, Offering> byId = new HashMap<>();
        for (Offering o : offerings) byId.put(o.id(), o);
        this.offeringsById = byId;
        this.offerings = List.copyOf(offerings);
        this.plain = Scheduler.standard(candidateLimit);
    }

    /** Whether the set's placement depends on the job: shapes then carry the job's id. */
    boolean placesByJob() {
        return set != null && set.placesByJob();
    }

    long violations() {
        return violations;
    }

    List<String> violationExamples() {
        return List.copyOf(violationExamples);
    }

    /** Per tenant with a quota, the most CPU (millicores) it held beyond its nominal quota at the end of any cycle. */
    Map<String, Long> peakBorrowedCpu() {
        return peakBorrowedCpu;
    }

    @Override
    public String refuse(Simulation.Job job, Instant now) {
        if (set == null) return null;
        JobFacts f = facts.get(job.id());
        AdmissionResult r = set.admit(f, set.tenantFacts(f.tenant(), Map.of()), now);
        if (!r.denied()) return null;
        for (AdmissionOutcome o : r.outcomes()) {
            if (o.action() == dev.spillway.policies.document.PolicyDoc.Action.DENY) return o.policy() + "/" + o.rule() + ": " + o.message();
        }
        return "denied";
    }

    @Override
    public Scheduler scheduler(Simulation.Cycle cycle) {
        cycleQuota = null;
        cycleNodes = Map.of();
        if (!placesByJob()) return plain;
        Map<String, Map<String, Long>> usage = usage(cycle.heldByTenantNode());
        PlacementRules rules = set.placement(new PlacementContext(cycle.now(), shape -> facts.get(shape.facts()),
                tenant -> set.tenantFacts(tenant, usage.getOrDefault(tenant, Map.of())), pools, this::boughtAs));
        List<NodeFilter> filters = new ArrayList<>();
        filters.add(rules.filter());
        if (!set.tenantQuotas().isEmpty()) {
            Map<String, Boolean> cloud = new HashMap<>();
            pools.forEach((name, p) -> cloud.put(name, !p.kind().isEmpty() && !p.kind().equals("on-prem")));
            for (NodeView n : cycle.nodes()) cloud.putIfAbsent(n.pool(), "true".equals(n.labels().get(Scorers.CLOUD_LABEL)));
            // A tenant's spend on a node is counted from all it holds there together (the replay keeps no more).
            Map<String, NodeView> byName = new HashMap<>();
            for (NodeView n : cycle.nodes()) byName.put(n.name(), n);
            cycleNodes = byName;
            List<CycleQuota.Held> held = new ArrayList<>();
            cycle.heldByTenantNode().forEach((tenant, byNode) -> byNode.forEach((name, r) -> {
                NodeView n = byName.get(name);
                if (n != null && !r.equals(Resources.ZERO)) {
                    held.add(new CycleQuota.Held(tenant, n.pool(), CycleQuota.spot(n), Amounts.onNode(r, n.capacity(), usdPerHour(n))));
                }
            }));
            CycleQuota quota = new CycleQuota(set.tenantQuotas(), set.flavorOrder(), Flavors.resolve(set.flavorNames(), cloud), held, this::usdPerHour);
            cycleQuota = quota;
            filters.add(quota.filter(shape -> {
                JobFacts job = facts.get(shape.facts());
                return job == null ? null : job.tenant();
            }, shape -> facts.get(shape.facts()).priority()));
        }
        return Scheduler.standard(candidateLimit, filters, rules.scorers());
    }

    @Override
    public List<dev.spillway.core.scheduling.PendingTask> order(List<dev.spillway.core.scheduling.PendingTask> queue, Simulation.Cycle cycle) {
        if (cycleQuota == null) return queue;
        // The replay's queue is in queue order already: its positions are the turns fair share deals out again.
        List<dev.spillway.core.scheduling.PendingTask> ranked = new ArrayList<>(queue.size());
        Map<String, Integer> read = new HashMap<>();
        for (int i = 0; i < queue.size(); i++) {
            ranked.add(queue.get(i).withRank(i));
            read.merge(queue.get(i).ref().jobId(), 1, Integer::sum);
        }
        return dev.spillway.policies.quota.FairShare.rerank(ranked, cycleQuota.state(), jobId -> {
            JobFacts job = facts.get(jobId);
            if (job == null || !cycleQuota.governs(job.tenant())) return null;
            return dev.spillway.policies.quota.Workload.of(jobId, job.tenant(), job.priority(), 0, read.get(jobId), Amounts.of(job.perTask(), 0),
                    set.flavorOrder().getOrDefault(job.tenant(), List.of()));
        });
    }

    @Override
    public List<Placement> admit(List<Placement> planned, Simulation.Cycle cycle, Map<String, Simulation.Job> jobs) {
        if (cycleQuota == null) return planned;
        List<Placement> kept = new ArrayList<>(planned.size());
        for (Placement p : planned) {
            JobFacts job = facts.get(p.task().jobId());
            if (cycleQuota.reserve(job.tenant(), job.priority(), cycleNodes.get(p.node()), p.request()) == null) kept.add(p);
        }
        recordBorrowing();
        return kept;
    }

    /** Each quota tenant's CPU beyond its nominal quota, summed over its flavors, after this cycle's reservations. */
    private void recordBorrowing() {
        var state = cycleQuota.state();
        for (TenantQuota t : set.tenantQuotas()) {
            long borrowed = 0;
            for (String flavor : t.flavors().keySet()) {
                long used = state.usage(t.tenant(), flavor).get(QuotaResource.CPU);
                borrowed += Math.max(0, used - t.limits(flavor, QuotaResource.CPU).nominal());
            }
            peakBorrowedCpu.merge(t.tenant(), borrowed, Math::max);
        }
    }

    @Override
    public WaitingTask waiting(Simulation.Job job, TaskRef task, Instant queuedAt, boolean waitingCanHelp) {
        TaskShape s = job.shape();
        WaitingTerms t = set == null || !set.burstsByJob() ? null : terms.computeIfAbsent(job.id(), id -> terms(facts.get(id), queuedAt));
        if (t == null) return new WaitingTask(new Demand(task, s.request(), s.jurisdictions(), s.spotTolerant(), s.pools()), queuedAt, waitingCanHelp);
        return new WaitingTask(new Demand(task, s.request(), s.jurisdictions(), s.spotTolerant(), s.pools(), t.refused()), queuedAt, waitingCanHelp,
                t.burstAfter());
    }

    private WaitingTerms terms(JobFacts job, Instant now) {
        TenantFacts tenant = set.tenantFacts(job.tenant(), Map.of());
        // As the broker decides it; every pool is taken to have room (the replay does not look ahead at limits).
        java.util.Set<String> everyPool = new java.util.HashSet<>();
        offeringsById.values().forEach(o -> everyPool.add(o.pool()));
        Map<String, String> refused = set.burstRefusals(job, tenant, List.copyOf(offeringsById.values()), now, o -> {
            PoolFacts p = pools.get(o.pool());
            return new PoolFacts(o.pool(), p == null ? "local" : p.kind(), o.region(), null, 0).location(null);
        }, everyPool);
        return new WaitingTerms(Map.copyOf(refused), set.burstAfter(job, tenant, now).orElse(null));
    }

    /** As the broker's burst controller: a quota tenant's waiting tasks may burst only as far as its quota (spend included) lets them run. */
    @Override
    public List<WaitingTask> forBursting(List<WaitingTask> waiting) {
        if (cycleQuota == null || waiting.isEmpty()) return waiting;
        Map<String, Integer> counts = new java.util.LinkedHashMap<>();
        Map<String, WaitingTask> firsts = new HashMap<>();
        for (WaitingTask w : waiting) {
            String job = w.demand().task().jobId();
            counts.merge(job, 1, Integer::sum);
            firsts.putIfAbsent(job, w);
        }
        CycleQuota.BurstAllowance allowance = cycleQuota.burstAllowance();
        Map<String, CycleQuota.Allowed> allowed = new HashMap<>();
        counts.forEach((job, n) -> {
            JobFacts f = facts.get(job);
            if (f == null || !cycleQuota.governs(f.tenant())) return;
            Map<String, String> byRules = firsts.get(job).demand().refused();
            allowed.put(job, allowance.allow(f.tenant(), f.priority(), f.perTask(), n,
                    offerings.stream().filter(o -> !byRules.containsKey(o.id())).toList()));
        });
        if (allowed.isEmpty()) return waiting;
        List<WaitingTask> out = new ArrayList<>(waiting.size());
        Map<String, Integer> seen = new HashMap<>();
        for (WaitingTask w : waiting) {
            String job = w.demand().task().jobId();
            CycleQuota.Allowed a = allowed.get(job);
            Map<String, String> more = a == null ? Map.of() : seen.merge(job, 1, Integer::sum) <= a.tasks() ? a.refused() : a.beyond();
            if (more.isEmpty()) {
                out.add(w);
                continue;
            }
            Demand d = w.demand();
            Map<String, String> refused = new HashMap<>(d.refused());
            more.forEach((offering, why) -> refused.putIfAbsent(offering, CycleQuota.FILTER + ": " + why));
            out.add(new WaitingTask(new Demand(d.task(), d.request(), d.jurisdictions(), d.spotTolerant(), d.pools(), refused), w.queuedAt(),
                    w.waitingCanHelp(), w.burstAfter()));
        }
        return out;
    }

    @Override
    public void placed(Simulation.Job job, NodeView node, Instant now) {
        placedByTenant.merge(job.tenant(), 1L, Long::sum);
        JobFacts f = facts.get(job.id());
        Residency residency = set != null ? set.residency(f)
                : f.jurisdictions().isEmpty() ? Residency.ANYWHERE : new Residency(false, f.jurisdictions(), "job " + f.jurisdictions());
        if (residency.unrestricted()) return;
        PoolFacts pool = pools.get(node.pool());
        String j = pool != null && pool.jurisdiction() != null ? pool.jurisdiction() : node.labels().getOrDefault(TaskShape.JURISDICTION_LABEL, "");
        if (!residency.allows(j)) {
            violations++;
            if (violationExamples.size() < 5) {
                violationExamples.add("job " + job.id() + " on " + node.name() + " in " + (j.isEmpty() ? "no jurisdiction" : j) + ", required "
                        + residency.required() + " by " + residency.because());
            }
        }
    }

    private Offering boughtAs(NodeView node) {
        String id = Offering.idOfNode(node.pool(), node.labels());
        return id == null ? null : offeringsById.get(id);
    }

    /** A node's hourly price: its offering's on a cloud node, 0 on-prem. */
    private double usdPerHour(NodeView node) {
        Offering o = boughtAs(node);
        return o == null ? 0 : o.priceUsdPerHour();
    }

    /** What each tenant holds on nodes, as {@code tenant.usage} reads it: cpu millicores, memory MiB, gpu. */
    private static Map<String, Map<String, Long>> usage(Map<String, Map<String, Resources>> held) {
        Map<String, Map<String, Long>> out = new HashMap<>();
        held.forEach((tenant, byPool) -> {
            long cpu = 0, mem = 0, gpu = 0;
            for (Resources r : byPool.values()) {
                cpu += r.cpuMillis();
                mem += r.memoryMib();
                gpu += r.gpus();
            }
            out.put(tenant, Map.of("cpu", cpu, "memory", mem, "gpu", gpu));
        });
        return out;
    }
}
