package dev.spillway.core.scheduling;

import java.util.Map;
import java.util.Set;

/**
 * Everything about a task that decides where it can go. Tasks of one job array share one shape,
 * so the scheduler evaluates static constraints and remembers exhausted searches per shape,
 * not per task.
 *
 * @param request       resources one task needs
 * @param nodeSelector  labels a node must carry (all of them)
 * @param pools         pools the task may run in; empty means any
 * @param jurisdictions legal areas the task may run in (a node's {@link #JURISDICTION_LABEL}); empty means any
 * @param spotTolerant  whether the task may run on interruptible capacity (nodes labelled {@link #SPOT_LABEL}{@code =true})
 * @param facts         which job's facts placement policies judge the shape by (the broker uses the job id); empty when no
 *                      policy reads job facts. Shapes equal but for it are placed alike by the built-in filters, yet
 *                      policies may judge them apart, so they are not the same shape.
 */
public record TaskShape(Resources request, Map<String, String> nodeSelector, Set<String> pools, Set<String> jurisdictions,
                        boolean spotTolerant, String facts) {

    /** Node label naming the legal area a node is in, e.g. {@code EU}. */
    public static final String JURISDICTION_LABEL = "spillway.dev/jurisdiction";
    /** Node label marking interruptible (spot) capacity. */
    public static final String SPOT_LABEL = "spillway.dev/spot";

    public TaskShape {
        nodeSelector = Map.copyOf(nodeSelector);
        pools = Set.copyOf(pools);
        jurisdictions = Set.copyOf(jurisdictions);
        facts = facts == null ? "" : facts;
    }

    public TaskShape(Resources request, Map<String, String> nodeSelector, Set<String> pools, Set<String> jurisdictions,
                     boolean spotTolerant) {
        this(request, nodeSelector, pools, jurisdictions, spotTolerant, "");
    }

    /** This shape, judged by policies as the job {@code key} names. */
    public TaskShape withFacts(String key) {
        return key.equals(facts) ? this : new TaskShape(request, nodeSelector, pools, jurisdictions, spotTolerant, key);
    }

    /** A shape with no jurisdiction limits that does not tolerate spot capacity. */
    public TaskShape(Resources request, Map<String, String> nodeSelector, Set<String> pools) {
        this(request, nodeSelector, pools, Set.of(), false);
    }
}
