package dev.spillway.core.scheduling;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * The scheduling core: snapshot in, plan out. No I/O, no clock, no randomness: the same snapshot
 * always gives the same plan.
 *
 * <p>Tasks are taken by priority (higher first), then by their fair-share rank ({@link FairQueue}),
 * then by time queued, then by name. For each task
 * the nodes are walked through the filter pipeline, on-prem nodes first and then by name (so the
 * candidates always include paid-for capacity when there is any, whatever the nodes are called);
 * the first {@code candidateLimit} feasible nodes are scored and the best one wins (ties go to the
 * earlier node).
 *
 * <p>Two facts keep a cycle linear rather than tasks × nodes: within a cycle free resources only
 * shrink, and tasks of one job share a {@link TaskShape}. So each shape remembers how far it has
 * looked and which nodes it found feasible (a node that refused it will keep refusing), and once
 * a shape finds no node at all, the rest of its tasks wait with the same explanation, unsearched.
 *
 * <p>With placement policies every job is a shape of its own ({@link TaskShape#facts()}), though
 * many jobs ask for the same resources on the same kind of node. The filters that do not read
 * facts (the built-in ones) answer alike for all of them, and their refusals last the cycle; so
 * shapes equal but for their facts share a {@link BaseSearch} that remembers the nodes one of them
 * found refused by those filters, and the others step over them instead of asking again.
 */
public final class Scheduler {

    /** A scorer and its weight in the combined score. */
    public record WeightedScorer(NodeScorer scorer, double weight) {
    }

    /** The filters in the order explanations count vetoes in: each node under the first that refuses it. */
    private final NodeFilter[] filters;
    /** The same filters in the order the search asks them: the costly ones last (see {@link #Scheduler(List, List, List, int)}). */
    private final NodeFilter[] searchOrder;
    /** How many of {@link #searchOrder}, from the first, answer alike for shapes equal but for their facts. */
    private final int baseFilters;
    private final WeightedScorer[] scorers;
    private final double totalWeight;
    private final int candidateLimit;

    /** Filters asked in this order, any of which may judge shapes by their facts. */
    public Scheduler(List<NodeFilter> filters, List<WeightedScorer> scorers, int candidateLimit) {
        this(filters, filters, scorers, candidateLimit);
    }

    /**
     * @param filters the filters, in the order explanations count vetoes in
     * @param costly  those of {@code filters} the search should ask last: a node is feasible only if
     *                every filter passes it, so the order changes what a search costs, not what it
     *                finds; a busy node is then refused by the cheap free-resources check before a
     *                policy's rules are evaluated for it, while explanations still count it under a
     *                rule that refuses it for good. They are also the only filters that may read a
     *                shape's {@link TaskShape#facts() facts}: every other filter must answer alike
     *                for shapes equal but for them, and once it refuses a node, refuse it for the
     *                rest of the cycle (free resources only shrink), which lets such shapes share
     *                what it refused
     */
    public Scheduler(List<NodeFilter> filters, List<NodeFilter> costly, List<WeightedScorer> scorers, int candidateLimit) {
        if (candidateLimit < 1) throw new IllegalArgumentException("candidateLimit must be at least 1");
        if (!filters.containsAll(costly)) throw new IllegalArgumentException("costly filters must be among the filters");
        this.filters = filters.toArray(NodeFilter[]::new);
        List<NodeFilter> search = new java.util.ArrayList<>(filters);
        search.removeAll(costly);
        this.baseFilters = search.size();
        search.addAll(costly);
        this.searchOrder = search.toArray(NodeFilter[]::new);
        this.scorers = scorers.toArray(WeightedScorer[]::new);
        this.totalWeight = scorers.stream().mapToDouble(WeightedScorer::weight).sum();
        this.candidateLimit = candidateLimit;
    }

    /** The standard pipeline. Filters run cheapest and most selective first. */
    public static Scheduler standard() {
        return standard(8);
    }

    public static Scheduler standard(int candidateLimit) {
        return standard(candidateLimit, List.of(), List.of());
    }

    /**
     * The standard pipeline with a policy set's filters and scorers added. In explanations policy
     * filters come after the built-in static ones and before the free-resources check, so a node a
     * rule refuses counts under the rule, statically, even while it is busy; the search asks them
     * last, so that busy nodes cost no rule evaluation.
     */
    public static Scheduler standard(int candidateLimit, List<NodeFilter> policyFilters, List<WeightedScorer> policyScorers) {
        List<NodeFilter> filters = new java.util.ArrayList<>(List.of(
                Filters.SCHEDULABLE,     // one boolean: draining nodes out first
                Filters.POOL,            // set lookup, usually an empty set
                Filters.NODE_SELECTOR,   // a few map lookups, usually none
                Filters.JURISDICTION,    // one label lookup when the task is limited
                Filters.SPOT,            // one label lookup
                Filters.CAPACITY));      // static: the node could never hold the task
        filters.addAll(policyFilters);   // residency and the policies' rules, remembered per (shape, node) within a cycle
        filters.add(Filters.FREE_RESOURCES); // transient: the node is busy now
        List<WeightedScorer> scorers = new java.util.ArrayList<>(List.of(
                new WeightedScorer(Scorers.PREFER_ON_PREM, 2.0), // cloud only when on-prem is full
                new WeightedScorer(Scorers.BIN_PACK, 1.0),
                new WeightedScorer(Scorers.SPARE_GPUS, 1.0)));
        scorers.addAll(policyScorers);
        return new Scheduler(filters, policyFilters, scorers, candidateLimit);
    }

    /** The order nodes are examined in: on-prem before cloud, then by name. */
    static final Comparator<NodeView> ON_PREM_FIRST = Comparator
            .comparing((NodeView n) -> "true".equals(n.labels().get(Scorers.CLOUD_LABEL)))
            .thenComparing(NodeView::name);

    /** Orders tasks by priority (high first), then by rank (tenants in turn), then by time queued, then by job and index. */
    public static final Comparator<PendingTask> QUEUE_ORDER = Comparator
            .comparingInt((PendingTask t) -> -t.priority())
            .thenComparingInt(PendingTask::rank)
            .thenComparingLong(PendingTask::queuedAtMillis)
            .thenComparing(PendingTask::ref);

    public Plan plan(Snapshot snapshot) {
        return plan(snapshot, null);
    }

    /**
     * @param decisionNanos if not null, receives the time each task's decision took, in nanoseconds
     */
    public Plan plan(Snapshot snapshot, LongConsumer decisionNanos) {
        NodeSlot[] slots = snapshot.nodes().stream()
                .sorted(ON_PREM_FIRST)
                .map(NodeSlot::new)
                .toArray(NodeSlot[]::new);
        PendingTask[] queue = snapshot.tasks().toArray(PendingTask[]::new);
        Arrays.sort(queue, QUEUE_ORDER);

        Map<TaskShape, ShapeSearch> searches = new HashMap<>();
        Map<TaskShape, BaseSearch> bases = new HashMap<>();
        List<Placement> placements = new ArrayList<>();
        List<Plan.Unplaced> unplaced = new ArrayList<>();
        ShapeSearch search = null;
        for (PendingTask task : queue) {
            long start = decisionNanos == null ? 0 : System.nanoTime();
            // Tasks of one job often come in a row and share their shape instance: skip the hash lookup.
            if (search == null || search.shape != task.shape()) {
                search = searches.computeIfAbsent(task.shape(), shape -> new ShapeSearch(shape, base(bases, shape, slots.length)));
            }
            Placement placement = search.exhausted == null ? place(task, search, slots) : null;
            if (placement != null) {
                placements.add(placement);
            } else {
                unplaced.add(new Plan.Unplaced(task, search.exhausted));
            }
            if (decisionNanos != null) decisionNanos.accept(System.nanoTime() - start);
        }
        return new Plan(placements, unplaced);
    }

    /** The search shared by shapes equal to {@code shape} but for their facts; null where nothing can be shared. */
    private BaseSearch base(Map<TaskShape, BaseSearch> bases, TaskShape shape, int nodes) {
        if (shape.facts().isEmpty() || baseFilters == 0) return null;
        BaseSearch base = bases.computeIfAbsent(shape.withFacts(""), b -> new BaseSearch(nodes));
        base.sharers++;
        return base;
    }

    private Placement place(PendingTask task, ShapeSearch search, NodeSlot[] slots) {
        TaskShape shape = search.shape;
        int[] candidates = search.candidates;
        BaseSearch base = search.base;
        // Candidates placed on since they were found may no longer fit; those never fit again.
        int kept = 0;
        for (int i = 0; i < search.count; i++) {
            int refusedBy = refusingFilter(shape, slots[candidates[i]]);
            if (refusedBy < 0) candidates[kept++] = candidates[i];
            else if (base != null && refusedBy < baseFilters) base.refused(candidates[i]);
        }
        search.count = kept;
        // Extend past the frontier until there are candidateLimit feasible nodes or no more nodes.
        while (search.count < candidateLimit && search.frontier < slots.length) {
            int i = base == null ? search.frontier : base.next(search.frontier);
            search.frontier = Math.min(i + 1, slots.length);
            if (i >= slots.length) break;
            int refusedBy = refusingFilter(shape, slots[i]);
            if (refusedBy < 0) candidates[search.count++] = i;
            else if (base != null && refusedBy < baseFilters) base.refused(i);
        }
        if (search.count == 0) {
            search.exhausted = explain(shape, slots);
            return null;
        }
        int best = -1;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < search.count; i++) {
            double score = score(shape, slots[candidates[i]]);
            if (score > bestScore) { // candidates are in node order: ties go to the earlier node
                bestScore = score;
                best = candidates[i];
            }
        }
        slots[best].take(shape.request());
        return new Placement(task.ref(), slots[best].view().name(), shape.request(), bestScore, search.count);
    }

    /** -1 when the node can take the shape now; else the index in {@link #searchOrder} of a filter that refuses it. */
    private int refusingFilter(TaskShape shape, NodeSlot slot) {
        NodeFilter[] order = searchOrder;
        for (int f = 0; f < order.length; f++) {
            if (order[f].check(shape, slot) != null) return f;
        }
        return -1;
    }

    /** The veto explanations count the node under: the first in {@link #filters} order. */
    private Veto explainingVeto(TaskShape shape, NodeSlot slot) {
        for (NodeFilter f : filters) {
            Veto v = f.check(shape, slot);
            if (v != null) return v;
        }
        return null;
    }

    private double score(TaskShape shape, NodeSlot slot) {
        if (totalWeight == 0) return 0;
        double sum = 0;
        for (WeightedScorer s : scorers) sum += s.weight() * s.scorer().score(shape, slot);
        return sum / totalWeight;
    }

    private Explanation explain(TaskShape shape, NodeSlot[] slots) {
        Map<String, Map<Veto, Integer>> counts = new LinkedHashMap<>();
        for (NodeSlot slot : slots) {
            Veto v = explainingVeto(shape, slot);
            if (v == null) continue; // cannot happen for an exhausted shape; kept for safety of the count
            counts.computeIfAbsent(slot.view().pool(), p -> new LinkedHashMap<>()).merge(v, 1, Integer::sum);
        }
        List<Explanation.VetoCount> rows = new ArrayList<>();
        counts.forEach((pool, byVeto) -> byVeto.forEach((veto, n) -> rows.add(new Explanation.VetoCount(pool, veto, n))));
        return new Explanation(slots.length, rows);
    }

    /**
     * Per-shape search state for one cycle. Invariant: {@code candidates[0..count)} are, in node
     * order, the first feasible nodes for the shape; every other node before {@code frontier}
     * refused it and, since free resources only shrink within a cycle, always will. So each node
     * is examined past the frontier at most once per shape, and a placement costs O(candidateLimit).
     */
    private final class ShapeSearch {
        final TaskShape shape;
        /** Shared with the shapes equal to this one but for their facts; null when there is nothing to share. */
        final BaseSearch base;
        final int[] candidates = new int[candidateLimit];
        int count;
        int frontier;
        /** Set once no node can take the shape; every later task of the shape waits with it. */
        Explanation exhausted;

        ShapeSearch(TaskShape shape, BaseSearch base) {
            this.shape = shape;
            this.base = base;
        }
    }

    /**
     * The nodes that filters not reading facts refused, in one cycle, to shapes equal but for their
     * facts. Each such refusal lasts the cycle, so all of those shapes may step over these nodes.
     * Kept as links to "the next node not known refused", shortened as they are followed (path
     * halving), so stepping over a run of refused nodes costs about one step.
     */
    private static final class BaseSearch {
        private final int nodes;
        /** {@code next[i] == i} while node {@code i} is not known refused; else a later node to look at. Null until a refusal. */
        private int[] next;
        int sharers;

        BaseSearch(int nodes) {
            this.nodes = nodes;
        }

        /** The first node at or after {@code i} not known refused; {@code nodes} when there is none. */
        int next(int i) {
            if (next == null) return i;
            while (i < nodes && next[i] != i) {
                next[i] = next[next[i]];
                i = next[i];
            }
            return i;
        }

        /** Node {@code i} was refused by a filter that does not read facts. */
        void refused(int i) {
            if (sharers < 2) return; // no other shape would step over it
            if (next == null) {
                next = new int[nodes + 1];
                for (int k = 0; k <= nodes; k++) next[k] = k;
            }
            next[i] = i + 1;
        }
    }
}
