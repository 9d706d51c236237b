package dev.spillway.core.task;

import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
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

    private static final Map<TaskState, Set<TaskState>> ALLOWED = new EnumMap<>(TaskState.class);

    static {
        ALLOWED.put(TaskState.QUEUED, EnumSet.of(TaskState.ASSIGNED, TaskState.CANCELLED));
        ALLOWED.put(TaskState.ASSIGNED, EnumSet.of(TaskState.RUNNING, TaskState.QUEUED, TaskState.SUCCEEDED,
                TaskState.FAILED, TaskState.LOST, TaskState.CANCELLED));
        ALLOWED.put(TaskState.RUNNING, EnumSet.of(TaskState.SUCCEEDED, TaskState.QUEUED, TaskState.FAILED,
                TaskState.LOST, TaskState.CANCELLED));
        for (TaskState s : TaskState.values()) ALLOWED.putIfAbsent(s, EnumSet.noneOf(TaskState.class));
    }

    private TaskStateMachine() {}

    public static boolean allowed(TaskState from, TaskState to) {
        return ALLOWED.get(from).contains(to);
    }

    /** Every state from which {@code to} may be entered. */
    public static Set<TaskState> sourcesOf(TaskState to) {
        Set<TaskState> sources = EnumSet.noneOf(TaskState.class);
        ALLOWED.forEach((from, targets) -> {
            if (targets.contains(to)) sources.add(from);
        });
        return Collections.unmodifiableSet(sources);
    }
}
