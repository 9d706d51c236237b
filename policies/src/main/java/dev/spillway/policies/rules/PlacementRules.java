package dev.spillway.policies.rules;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeScorer;
import dev.spillway.core.scheduling.NodeSlot;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.scheduling.Veto;
import dev.spillway.policies.cel.CompiledExpression;
import dev.spillway.policies.cel.EvalError;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link PolicySet}'s placement rules for one scheduling cycle, as core filters and scorers.
 *
 * <p>Speed: the scheduler asks about (shape, node) pairs many times in a cycle, and every job is
 * a shape of its own. So the work is arranged to be done once where it can:
 * <ul>
 *   <li><b>per shape</b>, each rule is evaluated with the node left unknown (CEL partial
 *       evaluation): a rule that cannot match this job whatever the node ({@code
 *       job.labels.?pii.orValue("") == "true" && ...} for a job without the label) is dropped for
 *       the shape, and a scorer whose value does not depend on the node is a constant. Most
 *       shapes are left with few rules or none; with none, and no residency or burst check, the
 *       filter answers without looking anything up;</li>
 *   <li><b>per node</b>, rules that read only the node are evaluated once per cycle for all
 *       shapes; those reading its free resources again only when those changed;</li>
 *   <li><b>per (shape, node)</b>, the other rules' answers are remembered for the cycle; those
 *       reading the node's free resources until those change.</li>
 * </ul>
 * Use a new instance each cycle; not thread-safe (a cycle is not).
 */
public final class PlacementRules {

    private static final Veto PASS = new Veto("pass", Veto.Kind.STATIC, "pass");
    private static final Veto UNKNOWN_OFFERING = Veto.fixed("policy/burst",
            "the offering this cloud node was bought as is not known now; burst rules cannot be checked");
    /**
     * Weight of data gravity among the scorers: more than the built-in preference for on-prem (2),
     * so that a job goes where its data is when that saves moving it, though compute there may
     * cost a little more.
     */
    static final double GRAVITY_WEIGHT = 3.0;
    /** Variables that make a rule's answer differ between shapes. */
    private static final List<String> SHAPE_VARIABLES = List.of("job", "tenant", "task");

    private final PolicySet set;
    private final PlacementContext context;
    /** By equality: equal shapes (of one job) are one state however many instances the caller made. */
    private final Map<TaskShape, ShapeState> shapes = new HashMap<>();
    private TaskShape lastShape;
    private ShapeState lastState;
    private final Map<NodeSlot, NodeState> nodes = new IdentityHashMap<>();
    private final NodeFilter filter;
    private final List<Scheduler.WeightedScorer> scorers;
    /** Indexes (into {@code set.filters}) of the rules that read only the node and not its free resources. */
    private final int[] nodeOnlyFilters;
    private final boolean[] nodeOnlyFilter;
    /** Per filter, the (variable, field) pairs of job, tenant and task it may read: shapes equal in those share its answers. */
    private final List<String[]>[] readFields;
    /**
     * Per filter whose condition is {@code jobPart && nodePart}: the two parts (else null). For a job
     * that {@code jobPart} holds for, the rule is {@code nodePart}, whose answers are shared by all
     * shapes equal in what it reads ({@code job.tenant.startsWith("t-1") && node.labels.zone == "d"}:
     * one answer per node for every such tenant, rather than one per tenant and node).
     */
    private final CompiledExpression.Conjuncts[] splits;
    /** Per split filter, what its node part and its message may read of job, tenant and task. */
    private final List<String[]>[] splitReadFields;
    /** Per filter and values of the facts it reads, its answer per node (PASS when it lets the node be). */
    private final Map<List<Object>, Map<NodeSlot, Veto>> ruleAnswers = new HashMap<>();
    /** The same for filters reading free resources: each answer holds while the node's free resources are as they were. */
    private final Map<List<Object>, Map<NodeSlot, LiveAnswer>> liveRuleAnswers = new HashMap<>();

    private final boolean[] nodeOnlyScorer;

    @SuppressWarnings("unchecked")
    PlacementRules(PolicySet set, PlacementContext context) {
        this.set = set;
        this.context = context;
        this.filter = new PolicyFilter();
        List<Scheduler.WeightedScorer> s = new ArrayList<>();
        for (int i = 0; i < set.scorers.size(); i++) s.add(new Scheduler.WeightedScorer(new PolicyScorer(i), set.scorers.get(i).doc().weight()));
        if (!set.datasets().isEmpty()) s.add(new Scheduler.WeightedScorer(new GravityScorer(), GRAVITY_WEIGHT));
        this.scorers = List.copyOf(s);
        this.nodeOnlyFilter = new boolean[set.filters.size()];
        List<Integer> nodeOnly = new ArrayList<>();
        for (int i = 0; i < set.filters.size(); i++) {
            PolicySet.Filter f = set.filters.get(i);
            nodeOnlyFilter[i] = f.cacheable() && !readsShape(f.match()) && !readsShape(f.message());
            if (nodeOnlyFilter[i]) nodeOnly.add(i);
        }
        this.nodeOnlyFilters = nodeOnly.stream().mapToInt(Integer::intValue).toArray();
        this.readFields = new List[set.filters.size()];
        this.splits = new CompiledExpression.Conjuncts[set.filters.size()];
        this.splitReadFields = new List[set.filters.size()];
        for (int i = 0; i < set.filters.size(); i++) {
            PolicySet.Filter f = set.filters.get(i);
            readFields[i] = reads(f.match(), f.message());
            if (!nodeOnlyFilter[i]) {
                splits[i] = f.match().splitAround("node").orElse(null);
                if (splits[i] != null) splitReadFields[i] = reads(splits[i].with(), f.message());
            }
        }
        this.nodeOnlyScorer = new boolean[set.scorers.size()];
        for (int i = 0; i < set.scorers.size(); i++) nodeOnlyScorer[i] = !readsShape(set.scorers.get(i).score());
    }

    /** The (variable, field) pairs of job, tenant and task that a condition and its message may read. */
    private static List<String[]> reads(CompiledExpression match, CompiledExpression message) {
        Set<String> selected = new HashSet<>(match.selectedFields());
        selected.addAll(message.selectedFields());
        List<String[]> reads = new ArrayList<>();
        addReads(reads, "job", Variables.JOB.fieldNames(), selected, match, message);
        addReads(reads, "tenant", Variables.TENANT.fieldNames(), selected, match, message);
        addReads(reads, "task", Variables.TASK.fieldNames(), selected, match, message);
        return List.copyOf(reads);
    }

    /** The fields of {@code variable} the rule may read: those of its fields the rule selects by name (a superset). */
    private static void addReads(List<String[]> reads, String variable, Set<String> declared, Set<String> selected, CompiledExpression match,
                                 CompiledExpression message) {
        if (!match.uses(variable) && !message.uses(variable)) return;
        for (String field : declared) if (selected.contains(field)) reads.add(new String[] {variable, field});
    }

    private static boolean readsShape(CompiledExpression e) {
        for (String v : SHAPE_VARIABLES) if (e.uses(v)) return true;
        return false;
    }

    /** Residency, then every filter rule in policy order; the veto names the rule ({@code policy/<policy>/<rule>}). */
    public NodeFilter filter() {
        return filter;
    }

    /** One scorer per scorer rule, weighted as the rule says. */
    public List<Scheduler.WeightedScorer> scorers() {
        return scorers;
    }

    /**
     * Why {@code node} may take a task of {@code shape}, for the decision log: residency, the burst
     * rules on a cloud node, every filter that applies to the job (all passed: the node was
     * chosen) and every scorer's value there. Evaluated afresh, so call it for placements made,
     * once per (job, node).
     */
    public PlacementProof proof(TaskShape shape, NodeView node) {
        ShapeState s = shape(shape);
        NodeState n = node(NodeSlot.of(node));
        String jurisdiction = n.subject.jurisdiction();
        List<PlacementProof.RuleOutcome> out = new ArrayList<>();
        if (!s.residency.unrestricted()) {
            out.add(new PlacementProof.RuleOutcome("policy/residency", "allowed", PlacementProof.residency(s.residency, jurisdiction)));
        }
        if (!set.burst.isEmpty() && n.cloud && n.offering != null) {
            out.add(new PlacementProof.RuleOutcome("policy/burst", "allowed", "the job's burst rules allow offering " + n.offering.id()));
        }
        Bindings b = s.bindings.withNode(n.view);
        for (int i = 0; i < set.filters.size(); i++) {
            PolicySet.Filter f = set.filters.get(i);
            if (!nodeOnlyFilter[i] && !s.fixedRules.contains(f) && !s.liveRules.contains(f)) continue; // cannot match this job
            Veto v = evaluate(f, b);
            out.add(new PlacementProof.RuleOutcome(f.filterName(), v == null ? "passed" : "vetoed now", v == null ? "" : v.reason()));
        }
        for (int i = 0; i < set.scorers.size(); i++) {
            PolicySet.Scorer sc = set.scorers.get(i);
            out.add(new PlacementProof.RuleOutcome(sc.scorerName(), "scored", String.format(java.util.Locale.ROOT, "%.3f (weight %s)",
                    clamp(sc.score().evaluate(b)), sc.doc().weight())));
        }
        if (!s.job.datasets().isEmpty()) out.add(new PlacementProof.RuleOutcome("policy/data-gravity", "scored", dataMoves(s.job, n.subject.location())));
        return new PlacementProof(jurisdiction, n.subject.location(), PlacementProof.residency(s.residency, jurisdiction), out);
    }

    /**
     * What moving the job's datasets costs here and at the other places this cycle knows (its
     * nodes' locations and the cloud pools' regions), the cheapest first: {@code here (site:lyon):
     * nothing moves; elsewhere: aws:eu-central-1 +0.43 USD egress for 4.8 GB of genomes-2026 from site:lyon}.
     */
    private String dataMoves(JobFacts job, String here) {
        Set<String> places = new java.util.TreeSet<>();
        for (NodeState n : nodes.values()) places.add(n.subject.location());
        for (PoolFacts p : context.pools().values()) if (!p.kind().isEmpty() && !p.kind().equals("on-prem")) places.add(p.location(null));
        places.remove(here);
        PolicySet.DataMove local = set.dataMove(job, here);
        StringBuilder out = new StringBuilder("here (" + here + "): ").append(local.usd() == 0 ? "nothing moves" : "+" + local.description());
        List<String> elsewhere = places.stream().map(place -> java.util.Map.entry(place, set.dataMove(job, place)))
                .sorted(java.util.Comparator.comparingDouble((java.util.Map.Entry<String, PolicySet.DataMove> e) -> e.getValue().usd())
                        .thenComparing(java.util.Map.Entry::getKey))
                .limit(4)
                .map(e -> e.getKey() + (e.getValue().usd() == 0 ? " nothing moves" : " +" + e.getValue().description()))
                .toList();
        if (!elsewhere.isEmpty()) out.append("; elsewhere: ").append(String.join("; ", elsewhere));
        return out.toString();
    }

    private ShapeState shape(TaskShape shape) {
        // The scheduler asks about one task's shape many times in a row: the same instance.
        if (shape == lastShape) return lastState;
        ShapeState s = shapes.get(shape);
        if (s == null) {
            s = new ShapeState(shape);
            shapes.put(shape, s);
        }
        lastShape = shape;
        lastState = s;
        return s;
    }

    private NodeState node(NodeSlot slot) {
        NodeState n = nodes.get(slot);
        if (n == null) {
            PoolFacts pool = context.pools().get(slot.view().pool());
            if (pool == null) pool = new PoolFacts(slot.view().pool(), "", "", null, 0);
            Variables.NodeSubject subject = new Variables.NodeSubject(slot, pool);
            n = new NodeState(subject, Variables.NODE.view(subject), set.burst.isEmpty() ? null : context.cloud().apply(slot.view()),
                    "true".equals(slot.view().labels().get(Scorers.CLOUD_LABEL)), set.scorers.size());
            nodes.put(slot, n);
        }
        return n;
    }

    /** Whether a remembered answer about a node still holds: its free resources are as they were. */
    private static boolean sameFree(long[] seen, NodeSlot slot) {
        return seen[0] == slot.freeCpuMillis() && seen[1] == slot.freeMemoryMib() && seen[2] == slot.freeGpus();
    }

    private static long[] free(NodeSlot slot) {
        return new long[] {slot.freeCpuMillis(), slot.freeMemoryMib(), slot.freeGpus()};
    }

    /** A node during the cycle: its facts, and the answers of the rules that read only it. */
    private final class NodeState {
        final Variables.NodeSubject subject;
        final Map<String, Object> view;
        /** What a cloud node was bought as (null when unknown or not needed). */
        final Offering offering;
        final boolean cloud;
        /** The node-only filters' answer for every shape: PASS or the first veto; null until asked. */
        Veto nodeOnly;
        /** Node-only scorers' values; NaN until asked. Those reading free resources hold for {@code scoredFree}. */
        final double[] scores;
        long[] scoredFree;
        Bindings nodeBindings;

        NodeState(Variables.NodeSubject subject, Map<String, Object> view, Offering offering, boolean cloud, int scorerCount) {
            this.subject = subject;
            this.view = view;
            this.offering = offering;
            this.cloud = cloud;
            this.scores = new double[scorerCount];
            Arrays.fill(scores, Double.NaN);
        }

        Veto nodeOnly() {
            if (nodeOnly == null) {
                nodeOnly = PASS;
                for (int i : nodeOnlyFilters) {
                    Veto v = evaluate(set.filters.get(i), bindings());
                    if (v != null) {
                        nodeOnly = v;
                        break;
                    }
                }
            }
            return nodeOnly;
        }

        Bindings bindings() {
            if (nodeBindings == null) nodeBindings = new Bindings(null, null, null, view, null, context.now());
            return nodeBindings;
        }
    }

    /** A shape's facts for the cycle, the rules that may still match it, and what they said about nodes so far. */
    private final class ShapeState {
        final Bindings bindings;
        final Residency residency;
        /** Set when the cycle knows no job for the shape: every node is vetoed with it (fail closed). */
        final Veto unknownJob;
        final JobFacts job;
        final TenantFacts tenant;
        /** Shape-dependent filters that may match, not reading free resources: remembered per node. */
        final List<PolicySet.Filter> fixedRules = new ArrayList<>();
        /** For each of {@code fixedRules}, the condition to evaluate for this shape: the rule's, or its node part. */
        final List<CompiledExpression> fixedMatches = new ArrayList<>();
        /** For each of {@code fixedRules}, its answers per node, shared with shapes equal in what it reads. */
        final List<Map<NodeSlot, Veto>> fixedAnswers = new ArrayList<>();
        /** Shape-dependent filters that may match and read free resources. */
        final List<PolicySet.Filter> liveRules = new ArrayList<>();
        /** For each of {@code liveRules}, the condition to evaluate for this shape. */
        final List<CompiledExpression> liveMatches = new ArrayList<>();
        /** For each of {@code liveRules}, its answers per node and the free resources they hold for, shared like {@code fixedAnswers}. */
        final List<Map<NodeSlot, LiveAnswer>> liveAnswers = new ArrayList<>();
        /** Whether every one of {@code liveRules} vetoes transiently. */
        boolean liveRulesTransient;
        /** Per scorer: its value for every node, or NaN when it depends on the node. */
        final double[] constantScores;
        /** Whether every node passes this shape's rules: nothing to evaluate or remember. */
        final boolean open;
        final Map<NodeSlot, Veto> fixedVetoes = new IdentityHashMap<>();
        final Map<NodeSlot, double[]> scores = new IdentityHashMap<>();
        final Map<String, Veto> residencyVetoes = new HashMap<>();
        /** The burst rules' answer per offering id; PASS when allowed. */
        final Map<String, Veto> burstVetoes = new HashMap<>();
        /** Data gravity's score per node location. */
        final Map<String, Double> gravity = new HashMap<>();

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
            for (int i = 0; i < set.filters.size(); i++) {
                if (nodeOnlyFilter[i]) continue;
                PolicySet.Filter f = set.filters.get(i);
                // With the node unknown, a rule already false for this job never matches it.
                if (Boolean.FALSE.equals(f.match().evaluateWithout(bindings, "node"))) continue;
                // Where the job part of "job part && node part" holds, the rule is its node part: shared more widely.
                CompiledExpression.Conjuncts split = splits[i];
                boolean byNodePart = split != null && Boolean.TRUE.equals(split.without().evaluate(bindings));
                List<Object> key = new ArrayList<>();
                key.add(byNodePart ? -1 - i : i);
                for (String[] read : byNodePart ? splitReadFields[i] : readFields[i]) {
                    Map<String, Object> view = switch (read[0]) {
                        case "job" -> bindings.job();
                        case "tenant" -> bindings.tenant();
                        default -> bindings.task();
                    };
                    key.add(view.get(read[1]));
                }
                CompiledExpression match = byNodePart ? split.with() : f.match();
                if (f.cacheable()) {
                    fixedRules.add(f);
                    fixedMatches.add(match);
                    fixedAnswers.add(ruleAnswers.computeIfAbsent(key, k -> new IdentityHashMap<>()));
                } else {
                    liveRules.add(f);
                    liveMatches.add(match);
                    liveAnswers.add(liveRuleAnswers.computeIfAbsent(key, k -> new IdentityHashMap<>()));
                }
            }
            this.liveRulesTransient = liveRules.stream().allMatch(f -> f.doc().veto() == dev.spillway.policies.document.PolicyDoc.VetoKind.TRANSIENT);
            this.constantScores = new double[set.scorers.size()];
            for (int i = 0; i < constantScores.length; i++) {
                Object v = nodeOnlyScorer[i] ? CompiledExpression.DEPENDS : set.scorers.get(i).score().evaluateWithout(bindings, "node");
                constantScores[i] = v == CompiledExpression.DEPENDS ? Double.NaN : clamp(v);
            }
            this.open = unknownJob == null && fixedRules.isEmpty() && liveRules.isEmpty() && nodeOnlyFilters.length == 0
                    && residency.unrestricted() && set.burst.isEmpty();
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

    /** A live rule's answer about a node, and the node's free resources it holds for. */
    private record LiveAnswer(long[] free, Veto veto) {
    }

    private Veto evaluate(PolicySet.Filter f, Bindings b) {
        return evaluate(f, f.match(), b);
    }

    /** The rule's veto when {@code match} (its condition, or the part of it that decides for this job) holds in {@code b}; else null. */
    private Veto evaluate(PolicySet.Filter f, CompiledExpression match, Bindings b) {
        Object matched = match.evaluate(b);
        if (matched instanceof EvalError e) return Veto.fixed(f.filterName(), "rule could not be evaluated: " + e.message() + " (" + e.at() + ")");
        if (!Boolean.TRUE.equals(matched)) return null;
        String reason = f.reason(b);
        return new Veto(f.filterName(), switch (f.doc().veto()) {
            case STATIC -> Veto.Kind.STATIC;
            case TRANSIENT -> Veto.Kind.TRANSIENT;
        }, reason);
    }

    private final class PolicyFilter implements NodeFilter {
        @Override
        public String name() {
            return "policy";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot slot) {
            ShapeState s = shape(shape);
            if (s.open) return null;
            if (s.unknownJob != null) return s.unknownJob;
            Veto fixed = s.fixedVetoes.get(slot);
            if (fixed == null) {
                fixed = fixedPart(s, node(slot));
                s.fixedVetoes.put(slot, fixed);
            }
            if (fixed != PASS) return fixed;
            if (s.liveRules.isEmpty()) return null;
            // A busy node is refused, transiently, by the scheduler's free-resources check anyway: transient
            // live rules would change only which transient reason it is counted under.
            if (s.liveRulesTransient && slot.shortfall(shape.request()) != null) return null;
            Bindings b = null;
            for (int i = 0; i < s.liveRules.size(); i++) {
                Map<NodeSlot, LiveAnswer> answers = s.liveAnswers.get(i);
                LiveAnswer seen = answers.get(slot);
                Veto v;
                if (seen != null && sameFree(seen.free(), slot)) {
                    v = seen.veto();
                } else {
                    if (b == null) b = s.bindings.withNode(node(slot).view);
                    v = evaluate(s.liveRules.get(i), s.liveMatches.get(i), b);
                    answers.put(slot, new LiveAnswer(free(slot), v));
                }
                if (v != null) return v;
            }
            return null;
        }

        /** Residency, burst rules on cloud nodes, node-only rules and this shape's remembered rules; PASS when none vetoes. */
        private Veto fixedPart(ShapeState s, NodeState n) {
            if (!s.residency.unrestricted()) {
                String j = n.subject.jurisdiction();
                if (!s.residency.allows(j)) return s.residencyVeto(j);
            }
            if (!set.burst.isEmpty() && n.cloud) {
                // A cloud node is burst capacity: the job's burst rules decide whether it may run there.
                if (n.offering == null) return UNKNOWN_OFFERING;
                Veto burst = s.burstVeto(n.offering);
                if (burst != PASS) return burst;
            }
            Veto nodeOnly = n.nodeOnly();
            if (nodeOnly != PASS) return nodeOnly;
            Bindings b = null;
            for (int i = 0; i < s.fixedRules.size(); i++) {
                Map<NodeSlot, Veto> answers = s.fixedAnswers.get(i);
                Veto v = answers.get(n.subject.slot());
                if (v == null) {
                    if (b == null) b = s.bindings.withNode(n.view);
                    v = evaluate(s.fixedRules.get(i), s.fixedMatches.get(i), b);
                    if (v == null) v = PASS;
                    answers.put(n.subject.slot(), v);
                }
                if (v != PASS) return v;
            }
            return PASS;
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
            double constant = s.constantScores[index];
            if (!Double.isNaN(constant)) return constant;
            if (nodeOnlyScorer[index]) {
                // The same for every shape: remembered per node (until its free resources change, for a live rule).
                NodeState n = node(slot);
                if (!rule.cacheable()) {
                    if (n.scoredFree == null || !sameFree(n.scoredFree, slot)) {
                        for (int i = 0; i < n.scores.length; i++) if (!set.scorers.get(i).cacheable()) n.scores[i] = Double.NaN;
                        n.scoredFree = free(slot);
                    }
                }
                if (Double.isNaN(n.scores[index])) n.scores[index] = clamp(rule.score().evaluate(n.bindings()));
                return n.scores[index];
            }
            double[] remembered = null;
            if (rule.cacheable()) {
                remembered = s.scores.get(slot);
                if (remembered == null) {
                    remembered = new double[set.scorers.size()];
                    Arrays.fill(remembered, Double.NaN);
                    s.scores.put(slot, remembered);
                } else if (!Double.isNaN(remembered[index])) {
                    return remembered[index];
                }
            }
            double score = clamp(rule.score().evaluate(s.bindings.withNode(node(slot).view)));
            if (remembered != null) remembered[index] = score;
            return score;
        }
    }

    /**
     * Data gravity ({@code policy/data-gravity}): 1 where the job's datasets are (or for a job that
     * reads none), less the more moving them to the node's location costs: 1 / (1 + egress in USD),
     * so 1 USD of egress halves the score. Remembered per (shape, location).
     */
    private final class GravityScorer implements NodeScorer {
        @Override
        public String name() {
            return "policy/data-gravity";
        }

        @Override
        public double score(TaskShape shape, NodeSlot slot) {
            ShapeState s = shape(shape);
            if (s.job.datasets().isEmpty()) return 1;
            String location = node(slot).subject.location();
            Double score = s.gravity.get(location);
            if (score == null) {
                score = 1 / (1 + set.dataMove(s.job, location).usd());
                s.gravity.put(location, score);
            }
            return score;
        }
    }

    /** A score in [0, 1]; an evaluation error, NaN or a negative number scores 0. */
    private static double clamp(Object value) {
        if (!(value instanceof Number number)) return 0;
        double d = number.doubleValue();
        if (Double.isNaN(d) || d <= 0) return 0;
        return Math.min(d, 1);
    }
}
