package dev.spillway.core.task;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.lifecycle.ReasonCode;
import java.time.Duration;
import java.time.Instant;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class TaskLifecycleTest {

    private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");
    private static final RetryPolicy TWO_RETRIES = new RetryPolicy(2, Duration.ofSeconds(1), Duration.ofSeconds(3));

    @Test
    void failuresRetryWithExponentialBackoffThenFail() {
        var first = TaskLifecycle.onAttemptEnded(new AttemptOutcome.Exited(1), 0, 0, TWO_RETRIES, NOW);
        assertThat(first.state()).isEqualTo(TaskState.QUEUED);
        assertThat(first.attemptEnd()).isEqualTo(TaskState.FAILED);
        assertThat(first.notBefore()).isEqualTo(NOW.plusSeconds(1));
        var second = TaskLifecycle.onAttemptEnded(new AttemptOutcome.Exited(1), first.failures(), 0, TWO_RETRIES, NOW);
        assertThat(second.notBefore()).isEqualTo(NOW.plusSeconds(2));
        var third = TaskLifecycle.onAttemptEnded(new AttemptOutcome.Exited(1), second.failures(), 0, TWO_RETRIES, NOW);
        assertThat(third.state()).isEqualTo(TaskState.FAILED);
        assertThat(third.failures()).isEqualTo(3);
    }

    @Test
    void anAttemptPastItsMaxRuntimeIsAFailureWithReasonTimeoutAndUsesARetry() {
        var retried = TaskLifecycle.onAttemptEnded(new AttemptOutcome.TimedOut("ran past its maxRuntime of 2h; killed"), 0, 0, TWO_RETRIES, NOW);
        assertThat(retried.state()).isEqualTo(TaskState.QUEUED);
        assertThat(retried.failures()).isEqualTo(1);
        assertThat(retried.attemptEnd()).isEqualTo(TaskState.FAILED);
        assertThat(retried.message()).startsWith("ran past its maxRuntime of 2h; killed; retry 1/2");
        var failed = TaskLifecycle.onAttemptEnded(new AttemptOutcome.TimedOut("ran past its maxRuntime of 2h; killed"), 0, 0, RetryPolicy.NONE, NOW);
        assertThat(failed.state()).isEqualTo(TaskState.FAILED);
        assertThat(failed.reason()).isEqualTo(ReasonCode.TIMEOUT);
        assertThat(failed.reason().code()).isEqualTo("timeout");
    }

    @Test
    void aLostNodeRequeuesWithoutUsingARetry() {
        var d = TaskLifecycle.onAttemptEnded(new AttemptOutcome.NodeLost("n1"), 0, 0, RetryPolicy.NONE, NOW);
        assertThat(d.state()).isEqualTo(TaskState.QUEUED);
        assertThat(d.failures()).isZero();
        assertThat(d.losses()).isEqualTo(1);
        assertThat(d.attemptEnd()).isEqualTo(TaskState.LOST);
        var giveUp = TaskLifecycle.onAttemptEnded(new AttemptOutcome.NodeLost("n1"), 0, TaskLifecycle.MAX_NODE_LOSSES, RetryPolicy.NONE, NOW);
        assertThat(giveUp.state()).isEqualTo(TaskState.LOST);
    }

    @Test
    void aPreemptedAttemptRequeuesWithoutUsingARetryOrCountingAsALoss() {
        var d = TaskLifecycle.onAttemptEnded(new AttemptOutcome.Preempted("n1", "tenant a reclaims"), 1, 1, TWO_RETRIES, NOW);
        assertThat(d.state()).isEqualTo(TaskState.QUEUED);
        assertThat(d.failures()).isEqualTo(1);
        assertThat(d.losses()).isEqualTo(1);
        assertThat(d.reason()).isEqualTo(ReasonCode.PREEMPTED);
        assertThat(d.message()).contains("n1").contains("tenant a reclaims");
    }

    @Test
    void everyDecidedStateIsReachableFromRunning() {
        for (AttemptOutcome o : new AttemptOutcome[] {new AttemptOutcome.Exited(0), new AttemptOutcome.Exited(3),
                new AttemptOutcome.StartFailed("x"), new AttemptOutcome.NodeLost("n"), new AttemptOutcome.HandedBack("n"),
                new AttemptOutcome.Preempted("n", "quota reclaimed"), new AttemptOutcome.Cancelled()}) {
            TaskState next = TaskLifecycle.onAttemptEnded(o, 0, 0, TWO_RETRIES, NOW).state();
            assertThat(TaskStateMachine.allowed(TaskState.RUNNING, next)).as("%s -> %s", o, next).isTrue();
        }
    }

    @Test
    void terminalStatesHaveNoWayOut() {
        for (TaskState from : TaskState.values()) {
            if (!from.terminal()) continue;
            for (TaskState to : TaskState.values()) assertThat(TaskStateMachine.allowed(from, to)).isFalse();
        }
        assertThat(TaskStateMachine.sourcesOf(TaskState.ASSIGNED)).containsExactly(TaskState.QUEUED);
    }

    @Property
    void backoffNeverExceedsTheCapAndNeverShrinks(@ForAll @IntRange(min = 1, max = 200) int failures) {
        Duration d = TWO_RETRIES.backoffAfter(failures);
        assertThat(d).isLessThanOrEqualTo(TWO_RETRIES.maxBackoff());
        assertThat(d).isGreaterThanOrEqualTo(TWO_RETRIES.backoffAfter(Math.max(1, failures - 1)));
    }
}
