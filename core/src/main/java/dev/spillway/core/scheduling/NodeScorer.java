package dev.spillway.core.scheduling;

/**
 * Ranks a feasible node for a task: a number in [0, 1], higher is better.
 */
public interface NodeScorer {

    String name();

    double score(TaskShape shape, NodeSlot node);
}
