package dev.spillway.core.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SchedulerTest {

    private static final Resources TWO_CORES = new Resources(2000, 4096, 0);

    @Test
    void packsTasksOntoTheFullestNode() {
        NodeView busy = new NodeView("a", "onprem", new Resources(4000, 8192, 0), new Resources(2000, 4096, 0), Map.of(), true);
        NodeView empty = new NodeView("b", "onprem", new Resources(4000, 8192, 0), Resources.ZERO, Map.of(), true);
        PendingTask task = task("job", 0, new TaskShape(new Resources(1000, 1024, 0), Map.of(), Set.of()));

        Plan plan = Scheduler.standard().plan(new Snapshot(List.of(empty, busy), List.of(task)));

        assertThat(plan.placements()).singleElement().satisfies(p -> assertThat(p.node()).isEqualTo("a"));
    }

    @Test
    void explainsWhyATaskWaitsAndWhetherWaitingHelps() {
        NodeView full = new NodeView("a", "onprem", new Resources(4000, 8192, 0), new Resources(4000, 0, 0), Map.of(), true);
        NodeView small = new NodeView("b", "onprem", new Resources(1000, 8192, 0), Resources.ZERO, Map.of(), true);
        PendingTask task = task("job", 0, new TaskShape(TWO_CORES, Map.of(), Set.of()));

        Plan plan = Scheduler.standard().plan(new Snapshot(List.of(full, small), List.of(task)));

        Explanation why = plan.unplaced().get(0).why();
        assertThat(why.summary()).isEqualTo("no node fits (0/2): 1 insufficient free cpu, 1 node too small: cpu");
        assertThat(why.waitingCanHelp()).isTrue();
        assertThat(why.staticallyRefusedBy("onprem")).isFalse();
    }

    @Test
    void policyFiltersAreAskedAfterTheFreeResourcesCheckButExplanationsCountTheirStaticVetoFirst() {
        NodeView full = new NodeView("a", "onprem", new Resources(4000, 8192, 0), new Resources(4000, 0, 0), Map.of(), true);
        NodeView open = new NodeView("b", "onprem", new Resources(4000, 8192, 0), Resources.ZERO, Map.of(), true);
        java.util.List<String> asked = new java.util.ArrayList<>();
        NodeFilter policy = new NodeFilter() {
            @Override
            public String name() {
                return "policy/p/no-nodes";
            }

            @Override
            public Veto check(TaskShape shape, NodeSlot slot) {
                asked.add(slot.view().name());
                return Veto.fixed(name(), "kept for other work");
            }
        };
        PendingTask task = task("job", 0, new TaskShape(TWO_CORES, Map.of(), Set.of()));

        Plan plan = Scheduler.standard(8, List.of(policy), List.of()).plan(new Snapshot(List.of(full, open), List.of(task)));

        // The search asked the policy about the node with room only; the explanation counts both nodes under the rule: static.
        Explanation why = plan.unplaced().get(0).why();
        assertThat(why.summary()).isEqualTo("no node fits (0/2): 2 kept for other work [policy/p/no-nodes]");
        assertThat(why.waitingCanHelp()).isFalse();
        assertThat(asked.subList(0, 1)).containsExactly("b");
        assertThat(asked).containsOnly("a", "b");
    }

    @Test
    void aSelectorNoNodeCarriesIsAStaticRefusal() {
        NodeView node = new NodeView("a", "onprem", new Resources(4000, 8192, 0), Resources.ZERO, Map.of("zone", "a"), true);
        PendingTask task = task("job", 0, new TaskShape(TWO_CORES, Map.of("zone", "b"), Set.of()));

        Explanation why = Scheduler.standard().plan(new Snapshot(List.of(node), List.of(task))).unplaced().get(0).why();

        assertThat(why.waitingCanHelp()).isFalse();
        assertThat(why.staticallyRefusedBy("onprem")).isTrue();
    }

    @Test
    void higherPriorityGoesFirstWhenCapacityIsShort() {
        NodeView node = new NodeView("a", "onprem", TWO_CORES, Resources.ZERO, Map.of(), true);
        TaskShape shape = new TaskShape(TWO_CORES, Map.of(), Set.of());
        PendingTask early = new PendingTask(new TaskRef("early", 0, 0), shape, 0, 1);
        PendingTask urgent = new PendingTask(new TaskRef("urgent", 0, 0), shape, 10, 2);

        Plan plan = Scheduler.standard().plan(new Snapshot(List.of(node), List.of(early, urgent)));

        assertThat(plan.placements()).extracting(p -> p.task().jobId()).containsExactly("urgent");
        assertThat(plan.unplaced()).extracting(u -> u.task().ref().jobId()).containsExactly("early");
    }

    @Test
    void noNodesIsExplained() {
        Plan plan = Scheduler.standard().plan(new Snapshot(List.of(), List.of(task("j", 0, new TaskShape(TWO_CORES, Map.of(), Set.of())))));
        assertThat(plan.unplaced().get(0).why().summary()).isEqualTo("no nodes are connected");
    }

    private static PendingTask task(String job, int index, TaskShape shape) {
        return new PendingTask(new TaskRef(job, index, 0), shape, 0, 0);
    }

    @Test
    void onPremNodesAreAlwaysAmongTheCandidatesWhateverTheNodesAreCalled() {
        // Ten cloud nodes whose names sort first, more than the candidate limit, and one on-prem node named last.
        List<NodeView> nodes = new java.util.ArrayList<>();
        for (int i = 0; i < 10; i++) {
            nodes.add(new NodeView("aws-" + i, "aws", new Resources(4000, 8192, 0), Resources.ZERO, Map.of(Scorers.CLOUD_LABEL, "true"), true));
        }
        nodes.add(new NodeView("zz-rack-1", "onprem", new Resources(4000, 8192, 0), Resources.ZERO, Map.of(), true));
        TaskShape shape = new TaskShape(new Resources(1000, 1024, 0), Map.of(), Set.of());
        Plan plan = Scheduler.standard(8).plan(new Snapshot(nodes, List.of(new PendingTask(new TaskRef("j", 0, 0), shape, 0, 0))));
        assertThat(plan.placements()).singleElement().satisfies(p -> assertThat(p.node()).isEqualTo("zz-rack-1"));
    }
}
