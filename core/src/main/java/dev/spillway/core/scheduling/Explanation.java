package dev.spillway.core.scheduling;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Why a task could not be placed: how many nodes each veto ruled out, per pool.
 *
 * @param nodesConsidered every node in the snapshot
 * @param vetoes          one row per (pool, veto) with the number of nodes it ruled out;
 *                        each node is counted once, under the first filter that refused it
 */
public record Explanation(int nodesConsidered, List<VetoCount> vetoes) {

    public record VetoCount(String pool, Veto veto, int nodes) {
    }

    public Explanation {
        vetoes = List.copyOf(vetoes);
    }

    /** True when some node refused only because it is busy now, so the task may fit later. */
    public boolean waitingCanHelp() {
        return vetoes.stream().anyMatch(v -> v.veto().kind() == Veto.Kind.TRANSIENT);
    }

    /** True when every node of {@code pool} refused for a reason waiting cannot change. */
    public boolean staticallyRefusedBy(String pool) {
        return vetoes.stream().filter(v -> v.pool().equals(pool)).allMatch(v -> v.veto().kind() == Veto.Kind.STATIC);
    }

    /** For example {@code "no node fits (0/12): 8 insufficient free cpu, 4 node lacks a selected label"}. */
    public String summary() {
        if (nodesConsidered == 0) return "no nodes are connected";
        Map<String, Integer> byReason = new TreeMap<>();
        for (VetoCount v : vetoes) byReason.merge(reason(v.veto()), v.nodes(), Integer::sum);
        StringBuilder sb = new StringBuilder("no node fits (0/").append(nodesConsidered).append("):");
        String sep = " ";
        for (Map.Entry<String, Integer> e : byReason.entrySet()) {
            sb.append(sep).append(e.getValue()).append(' ').append(e.getKey());
            sep = ", ";
        }
        return sb.toString();
    }

    /**
     * What the summary says without the counts, so that waits for the same cause on clusters of
     * different sizes read alike: {@code "no node fits: insufficient free cpu, node lacks a selected label"}.
     */
    public String cause() {
        if (nodesConsidered == 0) return "no nodes are connected";
        java.util.Set<String> reasons = new java.util.TreeSet<>();
        for (VetoCount v : vetoes) reasons.add(reason(v.veto()));
        return "no node fits: " + String.join(", ", reasons);
    }

    /** A policy's veto names its rule, so the reader knows which document to look at. */
    private static String reason(Veto v) {
        return v.filter().startsWith(POLICY_FILTER_PREFIX) ? v.reason() + " [" + v.filter() + "]" : v.reason();
    }

    /** Filters whose names start with this are policy rules ({@code policy/<policy>/<rule>}, {@code policy/residency}). */
    public static final String POLICY_FILTER_PREFIX = "policy";
}
