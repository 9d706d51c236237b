package dev.spillway.core.scheduling;

/**
 * A queued task waiting for a node.
 *
 * @param ref            the task and the attempt the snapshot saw
 * @param shape          what decides where it can go
 * @param priority       higher first
 * @param queuedAtMillis when it (re-)entered the queue, epoch milliseconds; earlier first
 * @param rank           its turn within its priority level ({@link FairQueue#rank}); lower first
 */
public record PendingTask(TaskRef ref, TaskShape shape, int priority, long queuedAtMillis, int rank) {

    /** A task with no fair-share turn: ordered by priority and age alone. */
    public PendingTask(TaskRef ref, TaskShape shape, int priority, long queuedAtMillis) {
        this(ref, shape, priority, queuedAtMillis, 0);
    }

    public PendingTask withRank(int rank) {
        return new PendingTask(ref, shape, priority, queuedAtMillis, rank);
    }
}
