package dev.spillway.core.access;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The roles a caller can hold, from most to least powerful. A role is a fixed set of
 * permissions plus whether it reaches across tenants; there are no per-user grants to audit.
 */
public enum Role {
    /** Everything, in every tenant. */
    ADMIN(true, EnumSet.allOf(Permission.class)),
    /** Runs the machines: pools, nodes, instances and join tokens; never job contents. */
    OPERATOR(false, EnumSet.of(Permission.CLUSTER_READ, Permission.INSTANCES_READ, Permission.CLUSTER_WRITE, Permission.POLICY_READ,
            Permission.WHOAMI)),
    /** Reads every tenant's jobs and costs, and writes the policies; submits and cancels nothing, reads no logs. */
    FINOPS(true, EnumSet.of(Permission.JOB_READ, Permission.CLUSTER_READ, Permission.INSTANCES_READ, Permission.POLICY_READ,
            Permission.POLICY_WRITE, Permission.COST_READ, Permission.BUDGET_WRITE, Permission.WHOAMI)),
    /** Submits, cancels and reads its own tenant's jobs. */
    SUBMITTER(false, EnumSet.of(Permission.JOB_SUBMIT, Permission.JOB_CANCEL, Permission.JOB_READ, Permission.JOB_LOGS,
            Permission.CLUSTER_READ, Permission.COST_READ, Permission.WHOAMI)),
    /** Reads its own tenant's jobs. */
    VIEWER(false, EnumSet.of(Permission.JOB_READ, Permission.JOB_LOGS, Permission.CLUSTER_READ, Permission.COST_READ, Permission.WHOAMI));

    private final boolean allTenants;
    private final Set<Permission> permissions;

    Role(boolean allTenants, Set<Permission> permissions) {
        this.allTenants = allTenants;
        this.permissions = permissions;
    }

    public boolean permits(Permission permission) {
        return permissions.contains(permission);
    }

    /** Whether this role reads (never writes, unless admin) every tenant's jobs. */
    public boolean seesAllTenants() {
        return allTenants;
    }

    /** The name as users write it: {@code admin}, {@code operator}, ... */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<Role> fromLabel(String label) {
        if (label == null) return Optional.empty();
        for (Role r : values()) {
            if (r.label().equals(label.trim().toLowerCase(Locale.ROOT))) return Optional.of(r);
        }
        return Optional.empty();
    }
}
