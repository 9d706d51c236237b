package dev.spillway.core.burst;

import dev.spillway.core.scheduling.Resources;
import java.time.Instant;
import java.util.Set;

/**
 * A live cloud instance as the burst decision sees it: the broker's record joined with what it
 * observes of the instance's node.
 *
 * @param id              the record id (also the launch's idempotency key)
 * @param offeringId      {@link Offering#id()} of what was launched
 * @param shape           what the instance offers to tasks
 * @param launchedAt      when the provider launched it (the provider's own time for an adopted instance); null while REQUESTED
 * @param agentConnected  its agent holds a session with the broker now
 * @param tasksOnNode     attempts assigned to or running on its node now
 * @param idleSince       since when its node has held no task; null while it holds some (or has not joined)
 * @param forJobs         the jobs whose waiting tasks it was launched for
 * @param expectedTasks   how many waiting tasks it was expected to hold when it was launched
 * @param decision        why it was launched, as recorded then
 */
public record InstanceView(String id, String pool, String nodeName, String offeringId, Resources shape, boolean spot,
                           double priceUsdPerHour, InstanceState state, Instant requestedAt, Instant launchedAt,
                           boolean agentConnected, int tasksOnNode, Instant idleSince, Set<String> forJobs, int expectedTasks,
                           String decision) {

    public InstanceView {
        forJobs = Set.copyOf(forJobs);
    }

    /** Launched or about to be, but not joined yet. */
    public boolean onItsWay() {
        return state == InstanceState.REQUESTED || state == InstanceState.PROVISIONING;
    }
}
