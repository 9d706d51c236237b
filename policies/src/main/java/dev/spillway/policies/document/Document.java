package dev.spillway.policies.document;

/**
 * One YAML document of {@code apiVersion: spillway.dev/v1}. Every document has a kind and a name
 * unique within its kind, and remembers where it starts (for messages about it as a whole).
 */
public sealed interface Document permits TenantDoc, QueueDoc, PolicyDoc, DatasetDoc, EgressPricesDoc {

    String API_VERSION = "spillway.dev/v1";

    String kind();

    String name();

    Location at();
}
