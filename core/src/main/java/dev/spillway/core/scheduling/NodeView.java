package dev.spillway.core.scheduling;

import java.util.Map;
import java.util.Objects;

/**
 * A node as the scheduler sees it in one snapshot.
 *
 * @param name        unique node name
 * @param pool        pool the node belongs to
 * @param capacity    what the node offers to tasks
 * @param allocated   what assigned and running tasks hold on it now
 * @param labels      node labels, matched against task node selectors
 * @param schedulable false when the node is draining or otherwise takes no new work
 */
public record NodeView(String name, String pool, Resources capacity, Resources allocated, Map<String, String> labels,
                       boolean schedulable) {

    public NodeView {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(capacity, "capacity");
        Objects.requireNonNull(allocated, "allocated");
        labels = Map.copyOf(labels);
    }

    public Resources free() {
        return capacity.minusClamped(allocated);
    }
}
