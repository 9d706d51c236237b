package dev.spillway.policies.document;

import java.util.Map;

/** A tenant's quota in one flavor: one {@link ResourceQuota} per resource ({@code cpu}, {@code memory}, {@code gpu}, {@code spendUsdPerHour}). */
public record FlavorQuota(String flavor, Map<Resource, ResourceQuota> resources) {

    /** The resources a quota can name, in the units core uses. */
    public enum Resource {
        /** thousandths of a core; written {@code 4} or {@code 500m} */
        CPU("cpu"),
        /** MiB; written {@code 512Mi}, {@code 16Gi}, {@code 1Ti} */
        MEMORY("memory"),
        /** whole GPUs */
        GPU("gpu"),
        /**
         * cloud spend in millionths of a US dollar per hour; written in dollars, {@code 20} or
         * {@code 12.50}. A task on a cloud node spends the node's hourly price times its share of
         * the node (its largest fraction of the node's cpu, memory or gpus); on-prem, nothing.
         */
        SPEND("spendUsdPerHour");

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
