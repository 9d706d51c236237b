package dev.spillway.core.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class SchedulerPropertiesTest {

    private final Scheduler scheduler = Scheduler.standard(3);

    @Property(tries = 300)
    void noPlanOverCommitsANode(@ForAll("snapshots") Snapshot snapshot) {
        Plan plan = scheduler.plan(snapshot);
        Map<String, NodeView> nodes = byName(snapshot);
        Map<String, Resources> used = new HashMap<>();
        for (Placement p : plan.placements()) used.merge(p.node(), p.request(), Resources::plus);
        used.forEach((node, amount) -> {
            NodeView n = nodes.get(node);
            assertThat(n.capacity().covers(n.allocated().plus(amount)))
                    .as("node %s: capacity %s, allocated %s, planned %s", node, n.capacity(), n.allocated(), amount)
                    .isTrue();
        });
    }

    @Property(tries = 300)
    void everyPlacementSatisfiesTheTasksConstraints(@ForAll("snapshots") Snapshot snapshot) {
        Plan plan = scheduler.plan(snapshot);
        Map<String, NodeView> nodes = byName(snapshot);
        Map<TaskRef, PendingTask> tasks = new HashMap<>();
        snapshot.tasks().forEach(t -> tasks.put(t.ref(), t));
        for (Placement p : plan.placements()) {
            NodeView node = nodes.get(p.node());
            TaskShape shape = tasks.get(p.task()).shape();
            assertThat(node.schedulable()).isTrue();
            assertThat(shape.pools().isEmpty() || shape.pools().contains(node.pool())).isTrue();
            assertThat(node.labels()).containsAllEntriesOf(shape.nodeSelector());
            assertThat(p.request()).isEqualTo(shape.request());
        }
    }

    @Property(tries = 300)
    void everyTaskIsEitherPlacedOnceOrExplained(@ForAll("snapshots") Snapshot snapshot) {
        Plan plan = scheduler.plan(snapshot);
        List<TaskRef> seen = new ArrayList<>();
        plan.placements().forEach(p -> seen.add(p.task()));
        plan.unplaced().forEach(u -> {
            seen.add(u.task().ref());
            assertThat(u.why()).isNotNull();
            assertThat(u.why().summary()).isNotBlank();
        });
        assertThat(seen).containsExactlyInAnyOrderElementsOf(snapshot.tasks().stream().map(PendingTask::ref).toList());
    }

    @Property(tries = 200)
    void theSameSnapshotGivesTheSamePlanWhateverTheInputOrder(@ForAll("snapshots") Snapshot snapshot) {
        List<NodeView> nodes = new ArrayList<>(snapshot.nodes());
        List<PendingTask> tasks = new ArrayList<>(snapshot.tasks());
        Collections.reverse(nodes);
        Collections.shuffle(tasks, new java.util.Random(tasks.size()));
        Plan a = scheduler.plan(snapshot);
        Plan b = scheduler.plan(new Snapshot(nodes, tasks));
        assertThat(b.placements()).isEqualTo(a.placements());
        assertThat(b.unplaced()).isEqualTo(a.unplaced());
    }

    @Property(tries = 200)
    void aTaskLeftWaitingFitsNowhereAfterThePlan(@ForAll("snapshots") Snapshot snapshot) {
        // If a waiting task could still fit a node after all placements, the plan wasted capacity.
        Plan plan = scheduler.plan(snapshot);
        Map<String, Resources> free = new HashMap<>();
        snapshot.nodes().forEach(n -> free.put(n.name(), n.free()));
        plan.placements().forEach(p -> free.compute(p.node(), (k, f) -> f.minusClamped(p.request())));
        for (Plan.Unplaced u : plan.unplaced()) {
            TaskShape shape = u.task().shape();
            for (NodeView n : snapshot.nodes()) {
                boolean eligible = n.schedulable() && (shape.pools().isEmpty() || shape.pools().contains(n.pool()))
                        && n.labels().entrySet().containsAll(shape.nodeSelector().entrySet());
                if (eligible) {
                    assertThat(free.get(n.name()).covers(shape.request()))
                            .as("%s left waiting although %s has %s free", u.task().ref(), n.name(), free.get(n.name()))
                            .isFalse();
                }
            }
        }
    }

    /** A filter that judges shapes by their facts (as placement policies do), refusing some nodes to each job for good. */
    private static final NodeFilter BY_FACTS = new NodeFilter() {
        @Override
        public String name() {
            return "by-facts";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot node) {
            return Math.floorMod((shape.facts() + "/" + node.view().name()).hashCode(), 3) == 0
                    ? Veto.fixed("by-facts", "refused to " + shape.facts()) : null;
        }
    };

    @Property(tries = 300)
    void shapesEqualButForTheirFactsShareWhatTheBuiltInFiltersRefusedWithoutChangingThePlan(@ForAll("jobsOfFewKinds") Snapshot snapshot) {
        List<NodeFilter> filters = List.of(Filters.SCHEDULABLE, Filters.POOL, Filters.NODE_SELECTOR, Filters.JURISDICTION, Filters.SPOT,
                Filters.CAPACITY, BY_FACTS, Filters.FREE_RESOURCES);
        List<Scheduler.WeightedScorer> scorers = List.of(new Scheduler.WeightedScorer(Scorers.PREFER_ON_PREM, 2),
                new Scheduler.WeightedScorer(Scorers.BIN_PACK, 1), new Scheduler.WeightedScorer(Scorers.SPARE_GPUS, 1));
        // Every filter taken to read facts: each job searches on its own, asking every filter about every node it passes.
        Plan alone = new Scheduler(filters, scorers, 2).plan(snapshot);
        Plan shared = new Scheduler(filters, List.of(BY_FACTS), scorers, 2).plan(snapshot);
        assertThat(shared.placements()).isEqualTo(alone.placements());
        assertThat(shared.unplaced()).isEqualTo(alone.unplaced());
    }

    /** Up to 40 nodes and jobs of three kinds, each job its own shape by its facts: many shapes equal but for them. */
    @Provide
    Arbitrary<Snapshot> jobsOfFewKinds() {
        Arbitrary<List<NodeView>> nodes = node().list().ofMinSize(1).ofMaxSize(40).map(list -> {
            List<NodeView> named = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                NodeView n = list.get(i);
                named.add(new NodeView(String.format("node-%02d", i), n.pool(), n.capacity(), n.allocated(), n.labels(), n.schedulable()));
            }
            return named;
        });
        Arbitrary<List<TaskShape>> kinds = job().map(JobArb::shape).list().ofSize(3);
        return Combinators.combine(nodes, kinds, Arbitraries.integers().between(0, 2).list().ofMinSize(1).ofMaxSize(12),
                Arbitraries.integers().between(1, 8)).as((ns, ks, picks, perJob) -> {
            List<PendingTask> tasks = new ArrayList<>();
            for (int j = 0; j < picks.size(); j++) {
                TaskShape shape = ks.get(picks.get(j)).withFacts("job-" + j);
                for (int i = 0; i < perJob; i++) tasks.add(new PendingTask(new TaskRef("job-" + j, i, 0), shape, 0, j));
            }
            return new Snapshot(ns, tasks);
        });
    }

    private static Map<String, NodeView> byName(Snapshot s) {
        Map<String, NodeView> m = new HashMap<>();
        s.nodes().forEach(n -> m.put(n.name(), n));
        return m;
    }

    @Provide
    Arbitrary<Snapshot> snapshots() {
        Arbitrary<List<NodeView>> nodes = node().list().ofMinSize(0).ofMaxSize(12)
                .map(list -> {
                    List<NodeView> named = new ArrayList<>();
                    for (int i = 0; i < list.size(); i++) {
                        NodeView n = list.get(i);
                        named.add(new NodeView("node-" + i, n.pool(), n.capacity(), n.allocated(), n.labels(), n.schedulable()));
                    }
                    return named;
                });
        Arbitrary<List<PendingTask>> tasks = job().list().ofMaxSize(6).map(jobs -> {
            List<PendingTask> all = new ArrayList<>();
            for (int j = 0; j < jobs.size(); j++) {
                JobArb job = jobs.get(j);
                for (int i = 0; i < job.count; i++) {
                    all.add(new PendingTask(new TaskRef("job-" + j, i, 0), job.shape, job.priority, job.queuedAt));
                }
            }
            return all;
        });
        return Combinators.combine(nodes, tasks).as(Snapshot::new);
    }

    private record JobArb(TaskShape shape, int count, int priority, long queuedAt) {
    }

    private Arbitrary<JobArb> job() {
        Arbitrary<Resources> request = Combinators.combine(
                Arbitraries.of(250L, 500L, 1000L, 2000L, 4000L),
                Arbitraries.of(128L, 512L, 1024L, 4096L),
                Arbitraries.frequency(Tuple2(8, 0), Tuple2(2, 1))).as(Resources::new);
        Arbitrary<Map<String, String>> selector = Arbitraries.frequency(
                Tuple2(6, Map.<String, String>of()),
                Tuple2(2, Map.of("zone", "a")),
                Tuple2(1, Map.of("disk", "ssd")));
        Arbitrary<Set<String>> pools = Arbitraries.frequency(
                Tuple2(6, Set.<String>of()), Tuple2(2, Set.of("onprem")), Tuple2(1, Set.of("cloud")));
        Arbitrary<TaskShape> shape = Combinators.combine(request, selector, pools).as(TaskShape::new);
        return Combinators.combine(shape, Arbitraries.integers().between(1, 15), Arbitraries.integers().between(-1, 1),
                Arbitraries.longs().between(0, 3)).as(JobArb::new);
    }

    private Arbitrary<NodeView> node() {
        Arbitrary<Resources> capacity = Combinators.combine(
                Arbitraries.of(1000L, 2000L, 4000L, 8000L),
                Arbitraries.of(1024L, 4096L, 8192L),
                Arbitraries.frequency(Tuple2(7, 0), Tuple2(3, 2))).as(Resources::new);
        Arbitrary<Map<String, String>> labels = Arbitraries.of(
                Map.of(), Map.of("zone", "a"), Map.of("zone", "b"), Map.of("zone", "a", "disk", "ssd"));
        return Combinators.combine(
                Arbitraries.of("onprem", "cloud"),
                capacity,
                Arbitraries.doubles().between(0, 1.2),
                labels,
                Arbitraries.frequency(Tuple2(9, true), Tuple2(1, false)))
                .as((pool, cap, used, lab, ok) -> new NodeView("n", pool, cap,
                        new Resources((long) (cap.cpuMillis() * used), (long) (cap.memoryMib() * Math.min(used, 1)), 0), lab, ok));
    }

    private static <T> net.jqwik.api.Tuple.Tuple2<Integer, T> Tuple2(int weight, T value) {
        return net.jqwik.api.Tuple.of(weight, value);
    }

    @Property(tries = 50)
    void explanationsCountEveryNodeOnce(@ForAll("snapshots") Snapshot snapshot) {
        Plan plan = scheduler.plan(snapshot);
        Set<Explanation> distinct = new HashSet<>();
        plan.unplaced().forEach(u -> distinct.add(u.why()));
        for (Explanation e : distinct) {
            assertThat(e.vetoes().stream().mapToInt(Explanation.VetoCount::nodes).sum()).isEqualTo(snapshot.nodes().size());
        }
    }
}
