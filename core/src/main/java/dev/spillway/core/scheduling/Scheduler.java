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
 */
public final class Scheduler {

    /** A scorer and its weight in the combined score. */
    public record WeightedScorer(NodeScorer scorer, double weight) {
    }

    /** The filters in the order explanations count vetoes in: each node under the first that refuses it. */
    private final NodeFilter[] filters;
    /** The same filters in the order the search asks them: the costly ones last (see {@link #Scheduler(List, List, List, int)}). */
    private final NodeFilter[] searchOrder;
    private final WeightedScorer[] scorers;
    private final double totalWeight;
    private final int candidateLimit;

    public Scheduler(List<NodeFilter> filters, List<WeightedScorer> scorers, int candidateLimit) {
        this(filters, List.of(), scorers, candidateLimit);
    }

    /**
     * @param filters the filters, in the order explanations count vetoes in
     * @param costly  those of {@code filters} the search should ask last: a node is feasible only if
     *                every filter passes it, so the order changes what a search costs, not what it
     *                finds; a busy node is then refused by the cheap free-resources check before a
     *                policy's rules are evaluated for it, while explanations still count it under a
     *                rule that refuses it for good
     */
    public Scheduler(List<NodeFilter> filters, List<NodeFilter> costly, List<WeightedScorer> scorers, int candidateLimit) {
        if (candidateLimit < 1) throw new IllegalArgumentException("candidateLimit must be at least 1");
        if (!filters.containsAll(costly)) throw new IllegalArgumentException("costly filters must be among the filters");
        this.filters = filters.toArray(NodeFilter[]::new);
        List<NodeFilter> search = new java.util.ArrayList<>(filters);
        search.removeAll(costly);
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
        List<Placement> placements = new ArrayList<>();
        List<Plan.Unplaced> unplaced = new ArrayList<>();
        ShapeSearch search = null;
        for (PendingTask task : queue) {
            long start = decisionNanos == null ? 0 : System.nanoTime();
            // Tasks of one job often come in a row and share their shape instance: skip the hash lookup.
            if (search == null || search.shape != task.shape()) search = searches.computeIfAbsent(task.shape(), ShapeSearch::new);
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

    private Placement place(PendingTask task, ShapeSearch search, NodeSlot[] slots) {
        TaskShape shape = search.shape;
        int[] candidates = search.candidates;
        // Candidates placed on since they were found may no longer fit; those never fit again.
        int kept = 0;
        for (int i = 0; i < search.count; i++) {
            if (firstVeto(shape, slots[candidates[i]]) == null) candidates[kept++] = candidates[i];
        }
        search.count = kept;
        // Extend past the frontier until there are candidateLimit feasible nodes or no more nodes.
        while (search.count < candidateLimit && search.frontier < slots.length) {
            int i = search.frontier++;
            if (firstVeto(shape, slots[i]) == null) candidates[search.count++] = i;
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

    /** Null when the node can take the shape now; else a veto (not necessarily the one explanations count). */
    private Veto firstVeto(TaskShape shape, NodeSlot slot) {
        for (NodeFilter f : searchOrder) {
            Veto v = f.check(shape, slot);
            if (v != null) return v;
        }
        return null;
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
        final int[] candidates = new int[candidateLimit];
        int count;
        int frontier;
        /** Set once no node can take the shape; every later task of the shape waits with it. */
        Explanation exhausted;

        ShapeSearch(TaskShape shape) {
            this.shape = shape;
        }
    }
}
