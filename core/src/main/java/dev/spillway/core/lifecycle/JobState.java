package dev.spillway.core.lifecycle;

import static dev.spillway.core.lifecycle.StateMachine.Rule.from;

import dev.spillway.core.task.TaskState;
import java.util.Map;

/**
 * A job's state: never set by hand, always {@link #of computed} from its tasks' states.
 * <pre>
 *   QUEUED  → RUNNING (a task was placed) | SUCCEEDED | FAILED | CANCELLED
 *   RUNNING → SUCCEEDED | FAILED | CANCELLED
 * </pre>
 */
public enum JobState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    public static final StateMachine<JobState> MACHINE = StateMachine.of(JobState.class,
            from(QUEUED).to(RUNNING, SUCCEEDED, FAILED, CANCELLED),
            from(RUNNING).to(SUCCEEDED, FAILED, CANCELLED));

    public boolean finished() {
        return MACHINE.terminal(this);
    }

    /**
     * The job's state given how many of its tasks are in each state: unfinished while any task is;
     * then CANCELLED if any task was cancelled, FAILED if any failed or was lost, else SUCCEEDED.
     * QUEUED while every unfinished task is queued and none has finished; a job whose placed tasks
     * all went back to the queue stays RUNNING, since the table has no way back.
     */
    public static JobState of(Map<TaskState, Integer> counts) {
        int queued = counts.getOrDefault(TaskState.QUEUED, 0);
        int onNode = counts.getOrDefault(TaskState.ASSIGNED, 0) + counts.getOrDefault(TaskState.RUNNING, 0);
        int finished = 0;
        for (TaskState s : TaskState.values()) if (s.terminal()) finished += counts.getOrDefault(s, 0);
        if (queued + onNode > 0) return onNode == 0 && finished == 0 ? QUEUED : RUNNING;
        if (counts.getOrDefault(TaskState.CANCELLED, 0) > 0) return CANCELLED;
        if (counts.getOrDefault(TaskState.FAILED, 0) + counts.getOrDefault(TaskState.LOST, 0) > 0) return FAILED;
        return SUCCEEDED;
    }
}
