package dev.spillway.policies.document;

import java.util.Map;

/** A tenant's quota in one flavor: one {@link ResourceQuota} per resource ({@code cpu}, {@code memory}, {@code gpu}). */
public record FlavorQuota(String flavor, Map<Resource, ResourceQuota> resources) {

    /** The resources a quota can name, in the units core uses. */
    public enum Resource {
        /** thousandths of a core; written {@code 4} or {@code 500m} */
        CPU("cpu"),
        /** MiB; written {@code 512Mi}, {@code 16Gi}, {@code 1Ti} */
        MEMORY("memory"),
        /** whole GPUs */
        GPU("gpu");

        private final String key;

        Resource(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    public FlavorQuota {
        resources = Map.copyOf(resources);
    }
}
