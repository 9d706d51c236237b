package dev.spillway.provider.spi;

import java.time.Instant;
import java.util.Map;

/** An instance as the provider reports it. */
public record Instance(String id, String instanceType, String region, String zone, boolean spot, State state,
                       Map<String, String> tags, Instant launchTime) {

    public enum State {
        /** Accepted, not yet running (booting). */
        PENDING,
        /** Running; its agent may or may not have joined yet. */
        RUNNING,
        /** Being stopped or terminated. */
        STOPPING,
        /** Gone. */
        TERMINATED
    }

    public Instance {
        tags = Map.copyOf(tags);
    }
}
