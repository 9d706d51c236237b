package dev.spillway.core.task;

import static dev.spillway.core.lifecycle.StateMachine.Rule.from;
import static dev.spillway.core.task.TaskState.ASSIGNED;
import static dev.spillway.core.task.TaskState.CANCELLED;
import static dev.spillway.core.task.TaskState.FAILED;
import static dev.spillway.core.task.TaskState.LOST;
import static dev.spillway.core.task.TaskState.QUEUED;
import static dev.spillway.core.task.TaskState.RUNNING;
import static dev.spillway.core.task.TaskState.SUCCEEDED;

import dev.spillway.core.lifecycle.StateMachine;
import java.util.Set;

/**
 * The one table of allowed task transitions. Stores turn {@link #sourcesOf} into compare-and-set
 * conditions ({@code UPDATE task ... WHERE state IN (sources)}), so a transition the table does
 * not allow can never be written.
 *
 * <pre>
 *   QUEUED   → ASSIGNED (placed) | CANCELLED
 *   ASSIGNED → RUNNING (agent started it) | QUEUED (retry, handed back, node lost) | FAILED | LOST | CANCELLED | SUCCEEDED
 *   RUNNING  → SUCCEEDED | QUEUED (retry, handed back, node lost) | FAILED | LOST | CANCELLED
 * </pre>
 * ASSIGNED → SUCCEEDED covers a fast process whose start and exit arrive in one report.
 * Terminal states (SUCCEEDED, FAILED, LOST, CANCELLED) have no way out.
 */
public final class TaskStateMachine {

    public static final StateMachine<TaskState> MACHINE = StateMachine.of(TaskState.class,
            from(QUEUED).to(ASSIGNED, CANCELLED),
            from(ASSIGNED).to(RUNNING, QUEUED, SUCCEEDED, FAILED, LOST, CANCELLED),
            from(RUNNING).to(SUCCEEDED, QUEUED, FAILED, LOST, CANCELLED));

    private TaskStateMachine() {}

    public static boolean allowed(TaskState from, TaskState to) {
        return MACHINE.allowed(from, to);
    }

    /** Every state from which {@code to} may be entered. */
    public static Set<TaskState> sourcesOf(TaskState to) {
        return MACHINE.sourcesOf(to);
    }
}
