package dev.spillway.core.burst;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The lifecycle of a cloud instance the broker asked for, with its one table of transitions.
 *
 * <pre>
 *   REQUESTED    → PROVISIONING (the provider accepted the launch) | FAILED (it refused)
 *   PROVISIONING → JOINED (its agent registered) | FAILED (never joined in time) | TERMINATED (vanished)
 *   JOINED       → DRAINING (idle, or interrupted) | TERMINATED (vanished)
 *   DRAINING     → TERMINATED
 * </pre>
 */
public enum InstanceState {
    REQUESTED, PROVISIONING, JOINED, DRAINING, TERMINATED, FAILED;

    private static final Map<InstanceState, Set<InstanceState>> ALLOWED = new EnumMap<>(InstanceState.class);

    static {
        ALLOWED.put(REQUESTED, EnumSet.of(PROVISIONING, FAILED));
        ALLOWED.put(PROVISIONING, EnumSet.of(JOINED, FAILED, TERMINATED));
        ALLOWED.put(JOINED, EnumSet.of(DRAINING, TERMINATED));
        ALLOWED.put(DRAINING, EnumSet.of(TERMINATED));
        ALLOWED.put(TERMINATED, EnumSet.noneOf(InstanceState.class));
        ALLOWED.put(FAILED, EnumSet.noneOf(InstanceState.class));
    }

    public boolean live() {
        return this != TERMINATED && this != FAILED;
    }

    public boolean canBecome(InstanceState next) {
        return ALLOWED.get(this).contains(next);
    }

    /** Every state from which {@code to} may be entered. */
    public static Set<InstanceState> sourcesOf(InstanceState to) {
        Set<InstanceState> out = EnumSet.noneOf(InstanceState.class);
        ALLOWED.forEach((from, targets) -> {
            if (targets.contains(to)) out.add(from);
        });
        return out;
    }
}
