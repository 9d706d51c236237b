package dev.spillway.core.task;

import java.util.EnumSet;
import java.util.Set;

/** The task lifecycle. Allowed transitions live in {@link TaskStateMachine}, nowhere else. */
public enum TaskState {
    QUEUED, ASSIGNED, RUNNING, SUCCEEDED, FAILED, LOST, CANCELLED;

    /** Unfinished and holding resources on a node. */
    public static final Set<TaskState> ON_NODE = EnumSet.of(ASSIGNED, RUNNING);
    /** Not finished yet. */
    public static final Set<TaskState> UNFINISHED = EnumSet.of(QUEUED, ASSIGNED, RUNNING);

    /** No further transition will happen. */
    public boolean terminal() {
        return !UNFINISHED.contains(this);
    }

    /** The task holds resources on a node. */
    public boolean onNode() {
        return ON_NODE.contains(this);
    }
}
