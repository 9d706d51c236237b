package dev.spillway.policies.rules;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeScorer;
import dev.spillway.core.scheduling.NodeSlot;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.scheduling.Veto;
import dev.spillway.policies.cel.EvalError;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link PolicySet}'s placement rules for one scheduling cycle, as core filters and scorers.
 *
 * <p>Speed: the scheduler asks about a (shape, node) pair many times in a cycle (each placement
 * re-checks its candidates). Facts are bound once per shape and once per node (map views, no
 * copies), and the result of every rule that reads only facts fixed within a cycle is remembered
 * per (shape, node), so each such rule is evaluated at most once per pair per cycle. Rules reading
 * a node's free resources are evaluated every time they are asked.
 */
public final class PlacementRules {

    private static final Veto PASS = new Veto("pass", Veto.Kind.STATIC, "pass");
    private static final Veto UNKNOWN_OFFERING = Veto.fixed("policy/burst",
            "the offering this cloud node was bought as is not known now; burst rules cannot be checked");

    private final PolicySet set;
    private final PlacementContext context;
    private final Map<TaskShape, ShapeState> shapes = new IdentityHashMap<>();
    private final Map<NodeSlot, NodeState> nodes = new IdentityHashMap<>();
    private final NodeFilter filter;
    private final List<Scheduler.WeightedScorer> scorers;

    PlacementRules(PolicySet set, PlacementContext context) {
        this.set = set;
        this.context = context;
        this.filter = new PolicyFilter();
        List<Scheduler.WeightedScorer> s = new ArrayList<>();
        for (int i = 0; i < set.scorers.size(); i++) s.add(new Scheduler.WeightedScorer(new PolicyScorer(i), set.scorers.get(i).doc().weight()));
        this.scorers = List.copyOf(s);
    }

    /** Residency, then every filter rule in policy order; the veto names the rule ({@code policy/<policy>/<rule>}). */
    public NodeFilter filter() {
        return filter;
    }

    /** One scorer per scorer rule, weighted as the rule says. */
    public List<Scheduler.WeightedScorer> scorers() {
        return scorers;
    }

    private ShapeState shape(TaskShape shape) {
        ShapeState s = shapes.get(shape);
        if (s == null) {
            s = new ShapeState(shape);
            shapes.put(shape, s);
        }
        return s;
    }

    private NodeState node(NodeSlot slot) {
        NodeState n = nodes.get(slot);
        if (n == null) {
            PoolFacts pool = context.pools().get(slot.view().pool());
            if (pool == null) pool = new PoolFacts(slot.view().pool(), "", "", null, 0);
            Variables.NodeSubject subject = new Variables.NodeSubject(slot, pool);
            n = new NodeState(subject, Variables.NODE.view(subject), set.burst.isEmpty() ? null : context.cloud().apply(slot.view()),
                    "true".equals(slot.view().labels().get(Scorers.CLOUD_LABEL)));
            nodes.put(slot, n);
        }
        return n;
    }

    /** @param offering what a cloud node was bought as (null when unknown or not needed); {@code cloud} whether it is a cloud node */
    private record NodeState(Variables.NodeSubject subject, Map<String, Object> view, Offering offering, boolean cloud) {
    }

    /** A shape's facts for the cycle, and what its rules said about nodes so far. */
    private final class ShapeState {
        final Bindings bindings;
        final Residency residency;
        final Map<NodeSlot, Veto> fixedVetoes = new IdentityHashMap<>();
        final Map<NodeSlot, double[]> scores = new IdentityHashMap<>();
        final Map<String, Veto> residencyVetoes = new HashMap<>();
        /** The burst rules' answer per offering id; PASS when allowed. */
        final Map<String, Veto> burstVetoes = new HashMap<>();
        final JobFacts job;
        final TenantFacts tenant;

        /** Set when the cycle knows no job for the shape: every node is vetoed with it (fail closed). */
        final Veto unknownJob;

        ShapeState(TaskShape shape) {
            JobFacts known = context.jobs().apply(shape);
            this.unknownJob = known == null ? Veto.fixed("policy", "no job facts for this task shape; placement rules cannot be checked") : null;
            JobFacts job = known != null ? known : JobFacts.of("", "", 0, 0, shape.request());
            TenantFacts tenant = context.tenants().apply(job.tenant());
            if (tenant == null) tenant = TenantFacts.named(job.tenant());
            this.job = job;
            this.tenant = tenant;
            this.bindings = new Bindings(Variables.JOB.view(job), Variables.TENANT.view(tenant), Variables.TASK.view(shape), null, null,
                    context.now());
            this.residency = set.residency(job);
        }

        /** Whether the burst rules let this job onto a cloud node bought as {@code offering}; PASS when they do. */
        Veto burstVeto(Offering offering) {
            return burstVetoes.computeIfAbsent(offering.id(), id -> {
                BurstVerdict v = set.burst(job, tenant, offering, context.now());
                return v.allowed() ? PASS : Veto.fixed("policy/" + v.rule(), v.reason());
            });
        }

        Veto residencyVeto(String jurisdiction) {
            return residencyVetoes.computeIfAbsent(jurisdiction, j -> Veto.fixed("policy/residency", j.isEmpty()
                    ? "node has no jurisdiction; " + residency.because() + " require one"
                    : "node in " + j + ", outside the jurisdictions required by " + residency.because()));
        }
    }

    private final class PolicyFilter implements NodeFilter {
        @Override
        public String name() {
            return "policy";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot slot) {
            ShapeState s = shape(shape);
            if (s.unknownJob != null) return s.unknownJob;
            Veto fixed = s.fixedVetoes.get(slot);
            NodeState n = null;
            Bindings b = null;
            if (fixed == null) {
                n = node(slot);
                fixed = fixedPart(s, n);
                s.fixedVetoes.put(slot, fixed);
            }
            if (fixed != PASS) return fixed;
            for (PolicySet.Filter f : set.filters) {
                if (f.cacheable()) continue;
                if (n == null) n = node(slot);
                if (b == null) b = s.bindings.withNode(n.view());
                Veto v = evaluate(f, b);
                if (v != null) return v;
            }
            return null;
        }

        /** Residency and the rules whose answer holds for the whole cycle; PASS when none vetoes. */
        private Veto fixedPart(ShapeState s, NodeState n) {
            if (!s.residency.unrestricted()) {
                String j = n.subject().jurisdiction();
                if (!s.residency.allows(j)) return s.residencyVeto(j);
            }
            if (!set.burst.isEmpty() && n.cloud()) {
                // A cloud node is burst capacity: the job's burst rules decide whether it may run there.
                if (n.offering() == null) return UNKNOWN_OFFERING;
                Veto burst = s.burstVeto(n.offering());
                if (burst != PASS) return burst;
            }
            Bindings b = null;
            for (PolicySet.Filter f : set.filters) {
                if (!f.cacheable()) continue;
                if (b == null) b = s.bindings.withNode(n.view());
                Veto v = evaluate(f, b);
                if (v != null) return v;
            }
            return PASS;
        }

        private Veto evaluate(PolicySet.Filter f, Bindings b) {
            Object matched = f.match().evaluate(b);
            if (matched instanceof EvalError e) return Veto.fixed(f.filterName(), "rule could not be evaluated: " + e.message() + " (" + e.at() + ")");
            if (!Boolean.TRUE.equals(matched)) return null;
            String reason = PolicySet.render(f.message(), b, f.doc().name());
            return new Veto(f.filterName(), switch (f.doc().veto()) {
                case STATIC -> Veto.Kind.STATIC;
                case TRANSIENT -> Veto.Kind.TRANSIENT;
            }, reason);
        }
    }

    private final class PolicyScorer implements NodeScorer {
        private final int index;
        private final PolicySet.Scorer rule;

        PolicyScorer(int index) {
            this.index = index;
            this.rule = set.scorers.get(index);
        }

        @Override
        public String name() {
            return rule.scorerName();
        }

        @Override
        public double score(TaskShape shape, NodeSlot slot) {
            ShapeState s = shape(shape);
            double[] remembered = null;
            if (rule.cacheable()) {
                remembered = s.scores.get(slot);
                if (remembered == null) {
                    remembered = new double[set.scorers.size()];
                    java.util.Arrays.fill(remembered, Double.NaN);
                    s.scores.put(slot, remembered);
                } else if (!Double.isNaN(remembered[index])) {
                    return remembered[index];
                }
            }
            double score = clamp(rule.score().evaluate(s.bindings.withNode(node(slot).view())));
            if (remembered != null) remembered[index] = score;
            return score;
        }

        private static double clamp(Object value) {
            if (!(value instanceof Number number)) return 0; // an evaluation error scores nothing
            double d = number.doubleValue();
            if (Double.isNaN(d) || d <= 0) return 0;
            return Math.min(d, 1);
        }
    }
}
