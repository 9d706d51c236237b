package dev.spillway.broker.admission;

import dev.spillway.broker.errors.Violation;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskShape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiPredicate;
import java.util.stream.Collectors;

/**
 * Could a task ever run anywhere? Plain Java over a snapshot of the places a task can go: the kinds of node registered
 * and the kinds of instance each cloud pool can launch. A task is refused only when no single place meets all of its
 * static rules at once: the same rules the scheduler's static filters apply (pool, jurisdiction, node selector, spot,
 * capacity; see {@code core.scheduling.Filters}). The rules narrow the places one after the other, in that order; the
 * one that leaves none is the one the violation names, saying what the remaining places offer instead.
 *
 * <p>A place may leave a label's value open (a cloud pool whose offerings were not read yet could launch any of its
 * instance types, in any zone) or its capacity (null): open means "might match", so uncertainty never refuses a job.
 */
final class Feasibility {

    /** Where a task could go: a kind of registered node, or a kind of instance a cloud pool can launch. */
    record Place(boolean cloud, String pool, Resources capacity, Map<String, String> labels, Set<String> openLabels) {
        Place {
            labels = Map.copyOf(labels);
            openLabels = Set.copyOf(openLabels);
        }

        static Place node(String pool, Resources capacity, Map<String, String> labels) {
            return new Place(false, pool, capacity, labels, Set.of());
        }

        boolean carries(String key, String value) {
            return openLabels.contains(key) || value.equals(labels.get(key));
        }

        /** Certainly interruptible capacity (a spot instance, a node labelled spot). */
        boolean spot() {
            return !openLabels.contains(TaskShape.SPOT_LABEL) && "true".equals(labels.get(TaskShape.SPOT_LABEL));
        }
    }

    /** One static rule: the request field it comes from, whether a place meets it, and what to say when none does. */
    private record Rule(String field, BiPredicate<TaskShape, Place> meets, Explainer explain) {
    }

    private interface Explainer {
        /** Why none of {@code left} (the places every earlier rule admits) meets the rule; {@code within} names those rules. */
        String why(TaskShape task, List<Place> left, String within);
    }

    private static final int LISTED = 6;

    /** The rules, in the order they narrow the places (cheapest and coarsest first, as the scheduler's filters). */
    private static final List<Rule> RULES = List.of(
            // Pools: a typo or a pool with nothing in it.
            new Rule("spec.task.pools", (t, p) -> t.pools().isEmpty() || t.pools().contains(p.pool()),
                    (t, left, within) -> "no node or cloud pool is in " + new TreeSet<>(t.pools()) + "; pools with nodes or cloud capacity: "
                            + listed(left.stream().map(p -> p.pool() + (p.cloud() ? " (cloud)" : "")).collect(Collectors.toCollection(TreeSet::new)))),
            // Jurisdictions: a node's spillway.dev/jurisdiction label, a cloud pool's jurisdiction.
            new Rule("spec.task.jurisdictions", (t, p) -> t.jurisdictions().isEmpty()
                    || t.jurisdictions().stream().anyMatch(j -> p.carries(TaskShape.JURISDICTION_LABEL, j)),
                    (t, left, within) -> "no node or cloud pool" + within + " is in jurisdictions " + new TreeSet<>(t.jurisdictions()) + "; "
                            + values(left, TaskShape.JURISDICTION_LABEL, "jurisdictions there", "none has a jurisdiction")),
            // Node selector: every label, on one node.
            new Rule("spec.task.node_selector", (t, p) -> t.nodeSelector().entrySet().stream().allMatch(e -> p.carries(e.getKey(), e.getValue())),
                    Feasibility::selectorMissing),
            // Spot: interruptible capacity takes only tasks that tolerate it.
            new Rule("spec.task.spot_tolerant", (t, p) -> t.spotTolerant() || !p.spot(),
                    (t, left, within) -> "every node and cloud offering" + within + " is spot (interruptible) capacity; "
                            + "set spot_tolerant to run there"),
            // Capacity: the whole request on one place, even empty.
            new Rule("spec.task.resources", (t, p) -> p.capacity() == null || p.capacity().covers(t.request()),
                    (t, left, within) -> "no node or cloud offering" + within + " has " + t.request() + "; the largest there: "
                            + listed(largest(left))));

    private Feasibility() {}

    /**
     * No violation when some place meets every rule, or when nothing is known (no node registered, no cloud pool): then
     * there is nothing to judge by and the task waits for capacity. Otherwise one violation, for the rule that left no
     * place; it says when other places would meet that rule but an earlier one excludes them.
     */
    static List<Violation> check(TaskShape task, List<Place> places) {
        if (places.isEmpty()) return List.of();
        List<Place> left = places;
        List<String> narrowedBy = new ArrayList<>();
        for (int i = 0; i < RULES.size(); i++) {
            Rule rule = RULES.get(i);
            List<Place> next = left.stream().filter(p -> rule.meets().test(task, p)).toList();
            if (next.isEmpty()) {
                String within = narrowedBy.isEmpty() ? "" : " " + String.join(", ", narrowedBy);
                return List.of(new Violation(rule.field(), rule.explain().why(task, left, within) + elsewhere(task, places, i)));
            }
            if (next.size() < left.size()) narrowedBy.add(phrase(task, i));
            left = next;
        }
        return List.of();
    }

    /** An earlier rule that left some places out, as the places that remain are described: "in pools [a]", "with disk=ssd". */
    private static String phrase(TaskShape task, int rule) {
        return switch (rule) {
            case 0 -> "in pools " + new TreeSet<>(task.pools());
            case 1 -> "in jurisdictions " + new TreeSet<>(task.jurisdictions());
            case 2 -> "with " + pairs(task.nodeSelector());
            default -> "on-demand";
        };
    }

    /** When places outside the earlier rules would meet this one: which earlier rule keeps them out. */
    private static String elsewhere(TaskShape task, List<Place> places, int rule) {
        Rule failed = RULES.get(rule);
        List<Place> alone = places.stream().filter(p -> failed.meets().test(task, p)).toList();
        if (alone.isEmpty()) return "";
        for (int i = 0; i < rule; i++) {
            Rule earlier = RULES.get(i);
            if (alone.stream().anyMatch(p -> !earlier.meets().test(task, p))) {
                return " (other places would, but " + earlier.field().substring("spec.task.".length()) + " excludes them)";
            }
        }
        return "";
    }

    private static String selectorMissing(TaskShape task, List<Place> left, String within) {
        Map<String, String> wanted = new TreeMap<>(task.nodeSelector());
        for (Map.Entry<String, String> e : wanted.entrySet()) {
            if (left.stream().noneMatch(p -> p.carries(e.getKey(), e.getValue()))) {
                return "no node or cloud pool" + within + " carries " + e.getKey() + "=" + e.getValue() + "; "
                        + values(left, e.getKey(), "values of " + e.getKey() + " there", "none carries " + e.getKey());
            }
        }
        return "no single node or cloud pool" + within + " carries all of " + pairs(wanted) + "; each is carried by some, never all together";
    }

    /** The values the places give a label ("any" for an open one), or {@code none} when none has it. */
    private static String values(List<Place> places, String key, String label, String none) {
        TreeSet<String> seen = new TreeSet<>();
        for (Place p : places) {
            if (p.openLabels().contains(key)) seen.add("any (" + p.pool() + ")");
            else if (p.labels().containsKey(key)) seen.add(p.labels().get(key));
        }
        return seen.isEmpty() ? none : label + ": " + listed(seen);
    }

    private static Set<String> largest(List<Place> places) {
        Map<String, Resources> byPool = new TreeMap<>();
        for (Place p : places) {
            byPool.merge(p.pool(), p.capacity(), (a, b) -> a.cpuMillis() >= b.cpuMillis() ? a : b);
        }
        Set<String> out = new java.util.LinkedHashSet<>();
        byPool.forEach((pool, r) -> out.add(pool + ": " + r));
        return out;
    }

    private static String pairs(Map<String, String> labels) {
        return new TreeMap<>(labels).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", "));
    }

    private static String listed(Set<String> items) {
        String shown = items.stream().limit(LISTED).collect(Collectors.joining(", "));
        return items.size() > LISTED ? shown + " and " + (items.size() - LISTED) + " more" : shown;
    }
}
