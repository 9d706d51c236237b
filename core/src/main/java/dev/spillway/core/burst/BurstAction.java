package dev.spillway.core.burst;

import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.core.scheduling.TaskRef;
import java.time.Instant;
import java.util.List;

/** What the burst decision asks the broker (or the simulator) to do. Data only; the shell carries it out. */
public sealed interface BurstAction {

    /**
     * Launch one instance of {@code offering}.
     *
     * @param forTasks      the waiting tasks (eligible to burst now) it is launched for
     * @param expectedTasks how many waiting tasks it is expected to hold (may exceed {@code forTasks}
     *                      when a node limit made the decision size for the whole queue)
     * @param reason        human-readable, recorded with the instance
     */
    record Launch(Offering offering, List<TaskRef> forTasks, int expectedTasks, String reason) implements BurstAction {
        public Launch {
            forTasks = List.copyOf(forTasks);
        }
    }

    /** The instance's agent has joined: it becomes JOINED. */
    record MarkJoined(String instanceId) implements BurstAction {
    }

    /** Stop giving the instance work (it becomes DRAINING); it is terminated once its node holds nothing. */
    record Drain(String instanceId, ReasonCode code, String reason) implements BurstAction {
    }

    /**
     * Terminate the instance and close its record in state {@code to} (TERMINATED, or FAILED when
     * it never joined).
     */
    record Terminate(String instanceId, InstanceState to, ReasonCode code, String reason) implements BurstAction {
    }

    /** Do not plan with the offering until {@code until}. */
    record HideOffering(String offeringId, Instant until, String reason) implements BurstAction {
    }

    /** Launch nothing in the pool until {@code until}. */
    record RestPool(String pool, Instant until, String reason) implements BurstAction {
    }
}
