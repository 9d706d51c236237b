package dev.spillway.policies.rules;

import java.util.List;

/**
 * Why a task could run on the node it was placed on, as the decision log records it for the
 * attempt: where the node is, how it meets the job's residency, and what each rule that applied
 * to the job said about it. An auditor reads it to show that work stayed where the rules say.
 *
 * @param jurisdiction the node's legal area ({@code ""} when it has none)
 * @param location     where the node is for data gravity ({@code site:dc1}, {@code aws:eu-central-1})
 * @param residency    the requirement and how the node meets it, or that there was none
 * @param rules        each rule that applied to the job on this node, in the order they are checked
 */
public record PlacementProof(String jurisdiction, String location, String residency, List<RuleOutcome> rules) {

    public PlacementProof {
        rules = List.copyOf(rules);
    }

    /**
     * @param rule    {@code policy/<policy>/<rule>}, {@code policy/residency}, {@code policy/data-gravity}, ...
     * @param outcome {@code allowed} (a hard rule the node meets), {@code passed} (a filter that did
     *                not veto), {@code scored} (a scorer's value on the node) or {@code charged} (a quota)
     * @param detail  the figure or reason, for people
     */
    public record RuleOutcome(String rule, String outcome, String detail) {
    }

    /** What is recorded for a job when no residency applies and no policy rule concerns it. */
    public static String unrestricted() {
        return "no jurisdiction required";
    }

    /** How a node in {@code jurisdiction} meets {@code residency}. */
    public static String residency(Residency residency, String jurisdiction) {
        if (residency.unrestricted()) return unrestricted();
        return "node in " + jurisdiction + ", within " + new java.util.TreeSet<>(residency.required()) + " required by " + residency.because();
    }
}
