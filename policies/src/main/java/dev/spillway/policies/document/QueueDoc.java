package dev.spillway.policies.document;

/**
 * {@code kind: Queue}: a named entry point for submissions that charges a tenant.
 *
 * @param tenant          the tenant whose quota it draws on (must be defined in the same set)
 * @param defaultPriority priority of jobs submitted without one
 */
public record QueueDoc(String name, Location at, String tenant, int defaultPriority) implements Document {

    @Override
    public String kind() {
        return "Queue";
    }
}
