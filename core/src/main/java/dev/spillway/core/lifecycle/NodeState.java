package dev.spillway.core.lifecycle;

import static dev.spillway.core.lifecycle.StateMachine.Rule.from;

import java.util.EnumSet;
import java.util.Set;

/**
 * A node's lifecycle, with its one table of transitions.
 * <pre>
 *   READY        → DRAINING (the agent drains) | LOST (silent past its lease) | DISCONNECTED (said goodbye holding nothing)
 *   DRAINING     → READY (takes work again) | LOST | DISCONNECTED
 *   LOST         → READY | DRAINING (it registered again)
 *   DISCONNECTED → READY | DRAINING (it registered again)
 * </pre>
 */
public enum NodeState {
    READY, DRAINING, LOST, DISCONNECTED;

    public static final StateMachine<NodeState> MACHINE = StateMachine.of(NodeState.class,
            from(READY).to(DRAINING, LOST, DISCONNECTED),
            from(DRAINING).to(READY, LOST, DISCONNECTED),
            from(LOST).to(READY, DRAINING),
            from(DISCONNECTED).to(READY, DRAINING));

    /** The broker believes an agent holds a session for the node (it may be silent, within its lease). */
    public static final Set<NodeState> CONNECTED = EnumSet.of(READY, DRAINING);

    public boolean connected() {
        return CONNECTED.contains(this);
    }
}
