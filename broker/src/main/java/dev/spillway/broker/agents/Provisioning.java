package dev.spillway.broker.agents;

import dev.spillway.core.scheduling.Resources;
import java.util.Map;
import java.util.TreeMap;

/**
 * What is fixed about a node whatever its agent declares: its pool, labels (every label under
 * {@value #RESERVED_PREFIX} comes from here only) and the most capacity it may register with. Fixed
 * when the node's join token is minted, and kept with the node for every later registration with
 * its node credential; for the shared agent token, by the broker's pool configuration.
 *
 * @param labels  labels the node carries; they win over the agent's
 * @param ceiling the most the node may offer in every dimension; null: no ceiling
 */
public record Provisioning(String pool, Map<String, String> labels, Resources ceiling) {

    /** Labels the scheduler and the burst planner trust (jurisdiction, cloud, spot, ...): never self-declared. */
    public static final String RESERVED_PREFIX = "spillway.dev/";

    public Provisioning {
        labels = Map.copyOf(labels);
    }

    /**
     * Null when a node registering in {@code pool} with {@code declared} labels and {@code capacity}
     * stays within what was fixed for it; otherwise why not, worded for the agent's operator.
     */
    public String refusal(String declaredPool, Map<String, String> declared, Resources capacity) {
        if (!pool.equals(declaredPool)) return "node is provisioned for pool " + pool + ", not " + printable(declaredPool);
        for (Map.Entry<String, String> e : new TreeMap<>(declared).entrySet()) {
            if (e.getKey().startsWith(RESERVED_PREFIX)) {
                return "label " + printable(e.getKey()) + " is reserved: labels under " + RESERVED_PREFIX + " are fixed when the node's join token is"
                        + " minted (spillway token create --label), never declared by the agent";
            }
            String fixed = labels.get(e.getKey());
            if (fixed != null && !fixed.equals(e.getValue())) {
                return "label " + printable(e.getKey()) + " is fixed to '" + fixed + "' for this node; the agent declared '"
                        + printable(e.getValue()) + "'";
            }
        }
        if (ceiling != null && !ceiling.covers(capacity)) {
            return "capacity " + capacity + " exceeds the node's ceiling " + ceiling + " (fixed when its join token was minted)";
        }
        return null;
    }

    /** The node's labels: the agent's, with the fixed ones over them. Call only once {@link #refusal} said yes. */
    public Map<String, String> labelsWith(Map<String, String> declared) {
        Map<String, String> all = new TreeMap<>(declared);
        all.putAll(labels);
        return all;
    }

    /** What an agent declared, fit for a log line and an audit row: no control characters, at most 80 characters. */
    static String printable(String declared) {
        String clean = declared.codePoints().map(c -> Character.isISOControl(c) ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
        return clean.length() <= 80 ? clean : clean.substring(0, 80) + "...";
    }
}
