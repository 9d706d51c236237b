package dev.spillway.core.scheduling;

/**
 * A queued task waiting for a node.
 *
 * @param ref            the task and the attempt the snapshot saw
 * @param shape          what decides where it can go
 * @param priority       higher first
 * @param queuedAtMillis when it (re-)entered the queue, epoch milliseconds; earlier first
 */
public record PendingTask(TaskRef ref, TaskShape shape, int priority, long queuedAtMillis) {
}
