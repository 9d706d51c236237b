package dev.spillway.core.scheduling;

/**
 * Answers "can a task of this shape go to this node?". Returns null to let the node pass, or a
 * veto saying why not and whether waiting can help. Implementations must be cheap and must not
 * allocate on the pass path: they run once per (shape, node) pair the search touches.
 */
public interface NodeFilter {

    String name();

    Veto check(TaskShape shape, NodeSlot node);
}
