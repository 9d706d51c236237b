package dev.spillway.policies.rules;

import java.util.Set;

/**
 * Where a job may run by law: the intersection of what its tenant, the datasets it reads and the
 * job itself require. A hard rule: nodes and offerings outside it are vetoed statically.
 *
 * @param required the allowed legal areas; empty with {@code unrestricted} true means anywhere
 * @param because  who asks, for messages (e.g. {@code tenant research, dataset genomes})
 */
public record Residency(boolean unrestricted, Set<String> required, String because) {

    public static final Residency ANYWHERE = new Residency(true, Set.of(), "");

    public Residency {
        required = Set.copyOf(required);
    }

    public boolean allows(String jurisdiction) {
        return unrestricted || (jurisdiction != null && required.contains(jurisdiction));
    }

    /** Requirements that cannot all hold: nothing satisfies them. */
    public boolean impossible() {
        return !unrestricted && required.isEmpty();
    }
}
