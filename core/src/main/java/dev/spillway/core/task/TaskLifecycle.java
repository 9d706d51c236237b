package dev.spillway.core.task;

import dev.spillway.core.lifecycle.ReasonCode;
import java.time.Duration;
import java.time.Instant;

/**
 * Decides what an ended attempt means for its task: success, a retry after backoff, a plain
 * re-queue, or a terminal failure. Pure: the caller supplies the clock reading.
 */
public final class TaskLifecycle {

    /**
     * A node loss re-queues the task without using a retry, at most this many times; a task that
     * keeps killing its nodes then ends LOST rather than taking down the pool.
     */
    public static final int MAX_NODE_LOSSES = 5;

    private TaskLifecycle() {}

    /**
     * The task's next state and bookkeeping.
     *
     * @param state      the new state (QUEUED for a retry or re-queue)
     * @param failures   failed attempts so far, including this one if it failed
     * @param losses     node losses so far, including this one
     * @param notBefore  earliest placement time for a re-queued task; null when not re-queued
     * @param reason     why, as a stable code
     * @param message    human-readable detail
     * @param attemptEnd how the attempt itself ended when the task goes back to the queue (FAILED
     *                   for a failure with retries left, LOST for a lost node), so histories show
     *                   it; null when the task's new state already says it
     */
    public record Decision(TaskState state, int failures, int losses, Instant notBefore, ReasonCode reason, String message,
                           TaskState attemptEnd) {
    }

    public static Decision onAttemptEnded(AttemptOutcome outcome, int failures, int losses, RetryPolicy retry, Instant now) {
        if (outcome instanceof AttemptOutcome.Exited e) {
            return e.exitCode() == 0
                    ? new Decision(TaskState.SUCCEEDED, failures, losses, null, ReasonCode.EXITED, "exited with code 0", null)
                    : failed(failures, losses, retry, now, ReasonCode.EXITED, "exited with code " + e.exitCode());
        }
        if (outcome instanceof AttemptOutcome.TimedOut t) {
            return failed(failures, losses, retry, now, ReasonCode.TIMEOUT, t.message());
        }
        if (outcome instanceof AttemptOutcome.StartFailed s) {
            return failed(failures, losses, retry, now, ReasonCode.START_FAILED, s.message());
        }
        if (outcome instanceof AttemptOutcome.NodeLost l) {
            return losses + 1 > MAX_NODE_LOSSES
                    ? new Decision(TaskState.LOST, failures, losses + 1, null, ReasonCode.NODE_LOST,
                            "node " + l.node() + " was lost; the task lost " + (losses + 1) + " nodes, giving up", null)
                    : new Decision(TaskState.QUEUED, failures, losses + 1, now, ReasonCode.NODE_LOST,
                            "node " + l.node() + " was lost; re-queued", TaskState.LOST);
        }
        if (outcome instanceof AttemptOutcome.HandedBack h) {
            return new Decision(TaskState.QUEUED, failures, losses, now, ReasonCode.HANDED_BACK,
                    "node " + h.node() + " is draining and handed the task back", null);
        }
        if (outcome instanceof AttemptOutcome.Preempted p) {
            return new Decision(TaskState.QUEUED, failures, losses, now, ReasonCode.PREEMPTED,
                    "preempted on node " + p.node() + ": " + p.reason() + "; re-queued", null);
        }
        return new Decision(TaskState.CANCELLED, failures, losses, null, ReasonCode.CANCELLED, "job cancelled", null);
    }

    private static Decision failed(int failures, int losses, RetryPolicy retry, Instant now, ReasonCode reason, String message) {
        int total = failures == Integer.MAX_VALUE ? failures : failures + 1; // a count that cannot grow still ends the task
        if (total > retry.maxRetries()) {
            String detail = retry.maxRetries() == 0 ? message : message + "; no retries left (" + retry.maxRetries() + " allowed)";
            return new Decision(TaskState.FAILED, total, losses, null, reason, detail, null);
        }
        Duration delay = retry.backoffAfter(total);
        return new Decision(TaskState.QUEUED, total, losses, now.plus(delay), ReasonCode.RETRY_BACKOFF,
                message + "; retry " + total + "/" + retry.maxRetries() + " after " + delay.toMillis() + " ms", TaskState.FAILED);
    }
}
