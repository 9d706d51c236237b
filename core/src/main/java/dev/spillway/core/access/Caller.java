package dev.spillway.core.access;

import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Who is calling, once their credential was verified: a subject (an API key's id or a token's
 * {@code sub}), one role, and the tenants they act in.
 *
 * @param subject  stable identity for the audit log: {@code apikey:<id>} or {@code oidc:<issuer>#<sub>}
 * @param role     what they may do
 * @param tenants  the tenants they act in; the first is where their jobs go when a request names none
 */
public record Caller(String subject, Role role, Set<String> tenants, String defaultTenant) {

    public Caller {
        Objects.requireNonNull(subject);
        Objects.requireNonNull(role);
        tenants = Set.copyOf(tenants);
        if (tenants.isEmpty()) throw new IllegalArgumentException("a caller acts in at least one tenant");
        if (!tenants.contains(defaultTenant)) throw new IllegalArgumentException("the default tenant must be one of the caller's tenants");
    }

    public static Caller of(String subject, Role role, String tenant) {
        return new Caller(subject, role, Set.of(tenant), tenant);
    }

    public boolean may(Permission permission) {
        return role.permits(permission);
    }

    /** The tenants whose jobs this caller reads. */
    public TenantScope readScope() {
        return role.seesAllTenants() ? TenantScope.all() : TenantScope.only(tenants);
    }

    /**
     * The tenant a job this caller submits belongs to. An empty request means the caller's
     * default; naming one of their own tenants is fine; naming another is refused (empty), unless
     * the caller is an admin.
     */
    public Optional<String> submitTenant(String requested) {
        if (requested == null || requested.isEmpty()) return Optional.of(defaultTenant);
        if (role == Role.ADMIN || tenants.contains(requested)) return Optional.of(requested);
        return Optional.empty();
    }

    /** Whether a list filter naming {@code tenant} is within what this caller may read. */
    public boolean mayName(String tenant) {
        return readScope().includes(tenant);
    }
}
