package dev.spillway.core.task;

/** How an attempt ended, as reported by an agent or decided by the broker. */
public sealed interface AttemptOutcome {

    /** The process exited by itself. */
    record Exited(int exitCode) implements AttemptOutcome {
    }

    /** The agent killed the process when it ran past its job's wall-time limit ({@code maxRuntime}); as the agent says it. */
    record TimedOut(String message) implements AttemptOutcome {
    }

    /** The process could not be started. */
    record StartFailed(String message) implements AttemptOutcome {
    }

    /** The node went silent past its lease with the attempt on it. */
    record NodeLost(String node) implements AttemptOutcome {
    }

    /** The agent stopped the attempt while draining and gives the task back. */
    record HandedBack(String node) implements AttemptOutcome {
    }

    /**
     * The broker stopped the attempt to give quota back to the tenant that lent it; the task is
     * re-queued without using a retry.
     */
    record Preempted(String node, String reason) implements AttemptOutcome {
    }

    /** The job was cancelled. */
    record Cancelled() implements AttemptOutcome {
    }
}
