package dev.spillway.core.burst;

import static dev.spillway.core.lifecycle.StateMachine.Rule.from;

import dev.spillway.core.lifecycle.StateMachine;
import java.util.EnumSet;
import java.util.Set;

/**
 * The lifecycle of a cloud instance the broker asked for, with its one table of transitions.
 *
 * <pre>
 *   REQUESTED    → PROVISIONING (the provider accepted the launch) | FAILED (it refused) | TERMINATED (no longer needed)
 *   PROVISIONING → JOINED (its agent registered) | FAILED (never joined in time) | TERMINATED (vanished, or no longer needed)
 *   JOINED       → DRAINING (idle, or making room) | TERMINATED (vanished)
 *   DRAINING     → TERMINATED (its node holds no work any more, or it vanished)
 * </pre>
 */
public enum InstanceState {
    REQUESTED, PROVISIONING, JOINED, DRAINING, TERMINATED, FAILED;

    public static final StateMachine<InstanceState> MACHINE = StateMachine.of(InstanceState.class,
            from(REQUESTED).to(PROVISIONING, FAILED, TERMINATED),
            from(PROVISIONING).to(JOINED, FAILED, TERMINATED),
            from(JOINED).to(DRAINING, TERMINATED),
            from(DRAINING).to(TERMINATED));

    /** Not ended: it counts against its pool's limits. */
    public static final Set<InstanceState> LIVE = EnumSet.of(REQUESTED, PROVISIONING, JOINED, DRAINING);

    public boolean live() {
        return LIVE.contains(this);
    }

    public boolean canBecome(InstanceState next) {
        return MACHINE.allowed(this, next);
    }

    /** Every state from which {@code to} may be entered. */
    public static Set<InstanceState> sourcesOf(InstanceState to) {
        return MACHINE.sourcesOf(to);
    }
}
