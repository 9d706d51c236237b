package dev.spillway.broker.api;

import com.google.protobuf.Duration;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.PolicyOfferingTrial;
import dev.spillway.api.v1.PolicyPoolTrial;
import dev.spillway.api.v1.PolicyRuleOutcome;
import dev.spillway.api.v1.PolicyVetoCount;
import dev.spillway.api.v1.TestPoliciesResponse;
import dev.spillway.broker.admission.JobSpecValidator;
import dev.spillway.broker.agents.AgentSession;
import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.policy.Policies;
import dev.spillway.broker.scheduling.CloudOfferings;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Explanation;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.scheduling.Veto;
import dev.spillway.policies.document.PolicyDoc;
import dev.spillway.policies.rules.AdmissionOutcome;
import dev.spillway.policies.rules.AdmissionResult;
import dev.spillway.policies.rules.BurstVerdict;
import dev.spillway.policies.rules.JobFacts;
import dev.spillway.policies.rules.PlacementContext;
import dev.spillway.policies.rules.PlacementRules;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.rules.PoolFacts;
import dev.spillway.policies.rules.TenantFacts;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code policy test}: what a policy set would do with one job, as the broker would do it now,
 * storing nothing. Admission runs the set's rules; placement runs the scheduler with the set's
 * rules over each pool's connected nodes (as they are allocated now) for one task of the job;
 * bursting asks the set's burst rules about every cloud offering a task fits on. Quotas are not
 * part of the trial: they depend on what runs when the job comes.
 */
@ApplicationScoped
class PolicyTrial {

    /** Enough to count every feasible node of a pool. */
    private static final int ALL_NODES = 1_000_000;

    private final AgentSessions sessions;
    private final NodeStore nodes;
    private final CloudOfferings offerings;
    private final SchedulingLoop scheduling;
    private final JobSpecValidator validator;
    private final Clock clock;
    private final Map<String, PoolFacts> poolFacts;

    PolicyTrial(AgentSessions sessions, NodeStore nodes, CloudOfferings offerings, SchedulingLoop scheduling, BrokerConfig config, Clock clock) {
        this.sessions = sessions;
        this.nodes = nodes;
        this.offerings = offerings;
        this.scheduling = scheduling;
        this.validator = new JobSpecValidator(config.limits());
        this.clock = clock;
        this.poolFacts = Policies.poolFacts(config);
    }

    private PoolFacts facts(String pool) {
        PoolFacts f = poolFacts.get(pool);
        return f != null ? f : new PoolFacts(pool, "on-prem", "", null, 0);
    }

    /** Blocking (reads the nodes' allocation): call off the event loop. A null set is no policy at all. */
    TestPoliciesResponse run(PolicySet set, JobSpec submitted, Map<String, NodeStore.Allocation> allocated) {
        JobSpecValidator.Result valid = validator.validate(submitted);
        if (!valid.violations().isEmpty()) throw new InvalidRequest(valid.violations());
        JobSpec spec = valid.spec();
        Instant now = clock.instant();
        JobFacts job = Policies.jobFacts(spec);
        TestPoliciesResponse.Builder out = TestPoliciesResponse.newBuilder().setAdmitted(true);
        TenantFacts tenant = set == null ? TenantFacts.named(job.tenant())
                : set.tenantFacts(job.tenant(), scheduling.tenantUsage().getOrDefault(job.tenant(), Map.of()));

        if (set != null) {
            AdmissionResult admission = set.admit(job, tenant, now);
            for (AdmissionOutcome o : admission.outcomes()) {
                if (o.action() == PolicyDoc.Action.DENY) out.setAdmitted(false);
                out.addAdmission(PolicyRuleOutcome.newBuilder().setRule(o.policy() + "/" + o.rule()).setAction(o.action().name())
                        .setMessage(o.message()));
            }
        }

        // Placement: one task of the job, each pool's connected nodes on their own.
        TaskShape shape = JobCatalog.shapeOf(spec).withFacts("trial");
        Map<String, List<NodeView>> byPool = new TreeMap<>();
        for (AgentSession s : sessions.connected()) {
            NodeStore.Allocation a = allocated.get(s.node());
            NodeView v = s.view(a == null ? Resources.ZERO : a.resources(), sessions.cordoned(s.node()));
            byPool.computeIfAbsent(v.pool(), p -> new ArrayList<>()).add(v);
        }
        Map<String, Offering> byId = offerings.byId();
        Scheduler scheduler = Scheduler.standard(ALL_NODES);
        if (set != null) {
            PlacementRules rules = set.placement(new PlacementContext(now, s -> job, t -> tenant, poolFacts, offerings.boughtAs()));
            scheduler = Scheduler.standard(ALL_NODES, List.of(rules.filter()), rules.scorers());
        }
        List<PolicyPoolTrial> pools = new ArrayList<>();
        for (Map.Entry<String, List<NodeView>> pool : byPool.entrySet()) {
            PendingTask task = new PendingTask(new TaskRef("trial", 0, 0), shape, spec.getPriority(), now.toEpochMilli());
            Plan plan = scheduler.plan(new Snapshot(pool.getValue(), List.of(task)));
            PolicyPoolTrial.Builder p = PolicyPoolTrial.newBuilder().setPool(pool.getKey()).setNodes(pool.getValue().size());
            if (set != null) {
                NodeView first = pool.getValue().get(0);
                p.setDataMove(set.dataMove(job, facts(pool.getKey()).location(first.labels().get(PoolFacts.SITE_LABEL))).description());
            }
            if (!plan.placements().isEmpty()) {
                p.setFeasible(plan.placements().get(0).candidatesScored()).setBestScore(plan.placements().get(0).score());
            } else {
                Explanation why = plan.unplaced().get(0).why();
                Map<Veto, Integer> counts = new java.util.LinkedHashMap<>();
                for (Explanation.VetoCount c : why.vetoes()) counts.merge(c.veto(), c.nodes(), Integer::sum);
                counts.forEach((veto, n) -> p.addVetoes(PolicyVetoCount.newBuilder().setFilter(veto.filter()).setReason(veto.reason())
                        .setTransient(veto.kind() == Veto.Kind.TRANSIENT).setNodes(n)));
            }
            pools.add(p.build());
        }
        pools.sort(Comparator.comparing((PolicyPoolTrial p) -> p.getFeasible() == 0).thenComparing(p -> -p.getBestScore())
                .thenComparing(PolicyPoolTrial::getPool));
        out.addAllPools(pools);

        // Bursting: every offering a task fits on, with the burst rules' verdict.
        List<Offering> fitting = byId.values().stream().filter(o -> o.shape().covers(shape.request()))
                .sorted(Comparator.comparingDouble(Offering::priceUsdPerHour).thenComparing(Offering::id)).toList();
        for (Offering o : fitting) {
            PolicyOfferingTrial.Builder t = PolicyOfferingTrial.newBuilder().setOffering(o.id()).setPool(o.pool())
                    .setPricePerHour(Usd.of(o.priceUsdPerHour())).setSpot(o.spot()).setAllowed(true);
            if (o.spot() && !shape.spotTolerant()) {
                t.setAllowed(false).setRule("spec.task.spot_tolerant").setReason("the job does not tolerate spot capacity");
            } else if (!shape.jurisdictions().isEmpty() && !shape.jurisdictions().contains(o.jurisdiction())) {
                t.setAllowed(false).setRule("spec.task.jurisdictions").setReason("offering in " + o.jurisdiction() + ", the job asks for "
                        + new java.util.TreeSet<>(shape.jurisdictions()));
            } else if (set != null) {
                BurstVerdict v = set.burst(job, tenant, o, now);
                if (!v.allowed()) t.setAllowed(false).setRule(v.rule()).setReason(v.reason());
            }
            if (set != null) {
                PoolFacts pool = facts(o.pool());
                t.setDataMove(set.dataMove(job, new PoolFacts(o.pool(), pool.kind(), o.region(), null, 0).location(null)).description());
            }
            out.addOfferings(t);
        }
        if (set != null) {
            set.burstAfter(job, tenant, now).ifPresent(d -> out.setBurstAfter(Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano())));
        }
        return out.build();
    }
}
