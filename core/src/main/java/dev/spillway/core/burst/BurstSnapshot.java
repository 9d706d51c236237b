package dev.spillway.core.burst;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Everything one burst decision looks at, gathered by the broker (or the simulator) at one instant.
 *
 * @param now                 the decision's clock reading
 * @param pools               the cloud pools
 * @param offerings           every pool's offerings as last read (hiding is the decision's job)
 * @param instances           live instances (REQUESTED, PROVISIONING, JOINED, DRAINING)
 * @param waiting             tasks the scheduler could not place at its last cycle
 * @param history             recent launch outcomes, oldest first, at least as far back as the longest hold
 * @param unreadableOfferings pools whose offerings could not be read, with why
 * @param brokerAddress       the address instances are told to call, named when they never join
 */
public record BurstSnapshot(Instant now, List<CloudPoolSpec> pools, List<Offering> offerings, List<InstanceView> instances,
                            List<WaitingTask> waiting, List<LaunchOutcome> history, Map<String, String> unreadableOfferings,
                            String brokerAddress) {

    public BurstSnapshot {
        pools = List.copyOf(pools);
        offerings = List.copyOf(offerings);
        instances = List.copyOf(instances);
        waiting = List.copyOf(waiting);
        history = List.copyOf(history);
        unreadableOfferings = Map.copyOf(unreadableOfferings);
    }
}
