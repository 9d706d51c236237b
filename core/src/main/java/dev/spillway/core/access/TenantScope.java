package dev.spillway.core.access;

import java.util.Set;

/**
 * The tenants whose jobs a caller may see: all of them, or a fixed set. A job outside the scope
 * does not exist for the caller (its reads and writes answer "not found", never "forbidden", so
 * job ids of other tenants cannot be probed).
 */
public sealed interface TenantScope {

    boolean includes(String tenant);

    /** Every tenant. */
    record All() implements TenantScope {
        @Override
        public boolean includes(String tenant) {
            return true;
        }
    }

    /** Only these tenants. */
    record Only(Set<String> tenants) implements TenantScope {
        public Only {
            tenants = Set.copyOf(tenants);
        }

        @Override
        public boolean includes(String tenant) {
            return tenants.contains(tenant);
        }
    }

    static TenantScope all() {
        return new All();
    }

    static TenantScope only(Set<String> tenants) {
        return new Only(tenants);
    }
}
