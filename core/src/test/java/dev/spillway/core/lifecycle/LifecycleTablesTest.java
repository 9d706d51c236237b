package dev.spillway.core.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.task.TaskState;
import dev.spillway.core.task.TaskStateMachine;
import java.util.EnumMap;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The transition tables of tasks, nodes, instances and jobs, and the job state computed from task counts. */
class LifecycleTablesTest {

    @Test
    void tablesSayWhereEachStateMayGo() {
        assertThat(TaskStateMachine.sourcesOf(TaskState.RUNNING)).containsExactly(TaskState.ASSIGNED);
        assertThat(TaskStateMachine.sourcesOf(TaskState.QUEUED)).containsExactlyInAnyOrder(TaskState.ASSIGNED, TaskState.RUNNING);
        assertThat(TaskStateMachine.MACHINE.terminalStates())
                .containsExactlyInAnyOrder(TaskState.SUCCEEDED, TaskState.FAILED, TaskState.LOST, TaskState.CANCELLED);
        assertThat(InstanceState.sourcesOf(InstanceState.TERMINATED))
                .containsExactlyInAnyOrder(InstanceState.REQUESTED, InstanceState.PROVISIONING, InstanceState.JOINED, InstanceState.DRAINING);
        assertThat(InstanceState.DRAINING.canBecome(InstanceState.JOINED)).isFalse();
        assertThat(NodeState.MACHINE.sourcesOf(NodeState.LOST)).containsExactlyInAnyOrder(NodeState.READY, NodeState.DRAINING);
        assertThat(NodeState.MACHINE.terminalStates()).isEmpty();
        assertThat(JobState.MACHINE.allowed(JobState.RUNNING, JobState.QUEUED)).isFalse();
        assertThat(StateMachine.sqlList(TaskState.ON_NODE)).isEqualTo("('ASSIGNED', 'RUNNING')");
    }

    @Test
    void aTransitionTheTableDoesNotAllowFailsLoudly() {
        assertThatThrownBy(() -> TaskStateMachine.MACHINE.check(TaskState.SUCCEEDED, TaskState.QUEUED))
                .isInstanceOf(IllegalStateException.class).hasMessage("TaskState SUCCEEDED may not become QUEUED");
    }

    @Test
    void aJobsStateFollowsItsTasks() {
        assertThat(JobState.of(counts(5, 0, 0, 0, 0, 0, 0))).isEqualTo(JobState.QUEUED);
        assertThat(JobState.of(counts(4, 1, 0, 0, 0, 0, 0))).isEqualTo(JobState.RUNNING);
        assertThat(JobState.of(counts(4, 0, 0, 1, 0, 0, 0))).isEqualTo(JobState.RUNNING);
        assertThat(JobState.of(counts(0, 0, 0, 5, 0, 0, 0))).isEqualTo(JobState.SUCCEEDED);
        assertThat(JobState.of(counts(0, 0, 0, 4, 1, 0, 0))).isEqualTo(JobState.FAILED);
        assertThat(JobState.of(counts(0, 0, 0, 4, 0, 1, 0))).isEqualTo(JobState.FAILED);
        assertThat(JobState.of(counts(0, 0, 0, 3, 1, 0, 1))).isEqualTo(JobState.CANCELLED);
    }

    @Property
    void aJobIsFinishedExactlyWhenEveryTaskIs(@ForAll @IntRange(max = 3) int queued, @ForAll @IntRange(max = 3) int assigned,
                                              @ForAll @IntRange(max = 3) int running, @ForAll @IntRange(max = 3) int succeeded,
                                              @ForAll @IntRange(max = 3) int failed, @ForAll @IntRange(max = 3) int lost,
                                              @ForAll @IntRange(max = 3) int cancelled) {
        var counts = counts(queued, assigned, running, succeeded, failed, lost, cancelled);
        if (counts.values().stream().mapToInt(Integer::intValue).sum() == 0) return;
        assertThat(JobState.of(counts).finished()).isEqualTo(queued + assigned + running == 0);
    }

    @Test
    void reasonCodesRoundTrip() {
        for (ReasonCode r : ReasonCode.values()) assertThat(ReasonCode.fromCode(r.code())).isEqualTo(r);
        assertThat(ReasonCode.NODE_LOST.code()).isEqualTo("node_lost");
        assertThat(ReasonCode.fromCode("no_such_code")).isNull();
    }

    private static Map<TaskState, Integer> counts(int q, int a, int r, int s, int f, int l, int c) {
        Map<TaskState, Integer> m = new EnumMap<>(TaskState.class);
        m.put(TaskState.QUEUED, q);
        m.put(TaskState.ASSIGNED, a);
        m.put(TaskState.RUNNING, r);
        m.put(TaskState.SUCCEEDED, s);
        m.put(TaskState.FAILED, f);
        m.put(TaskState.LOST, l);
        m.put(TaskState.CANCELLED, c);
        return m;
    }
}
