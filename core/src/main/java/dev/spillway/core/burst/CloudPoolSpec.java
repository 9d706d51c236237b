package dev.spillway.core.burst;

import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * A cloud pool's settings, as the burst decision reads them.
 *
 * @param jurisdiction         legal area of the pool's region, e.g. {@code EU}
 * @param minNodes             joined instances kept even when idle
 * @param maxNodes             instances (on their way, joined or draining) the pool may hold at once
 * @param maxSpendUsdPerHour   the most the pool's live instances may cost per hour together; infinite when uncapped
 * @param instanceTypes        instance types the pool may launch; empty means any it offers
 * @param burstAfter           how long a task waits on busy on-prem capacity before it may burst
 * @param scaleDownAfter       how long a joined instance stays idle before it is drained and terminated
 * @param joinTimeout          how long a launched instance has for its agent to join
 * @param capacityErrorBackoff how long an offering that hit a capacity error stays hidden
 * @param joinFailureLimit     consecutive instances that never joined after which the pool rests
 */
public record CloudPoolSpec(String name, String jurisdiction, int minNodes, int maxNodes, double maxSpendUsdPerHour,
                            Set<String> instanceTypes, Duration burstAfter, Duration scaleDownAfter, Duration joinTimeout,
                            Duration capacityErrorBackoff, int joinFailureLimit) {

    public CloudPoolSpec {
        Objects.requireNonNull(name, "name");
        instanceTypes = Set.copyOf(instanceTypes);
        if (minNodes < 0 || maxNodes < minNodes) throw new IllegalArgumentException("pool " + name + ": need 0 <= min-nodes <= max-nodes");
        if (joinFailureLimit < 1) throw new IllegalArgumentException("pool " + name + ": join-failure-limit must be at least 1");
    }

    public boolean spendCapped() {
        return !Double.isInfinite(maxSpendUsdPerHour);
    }
}
