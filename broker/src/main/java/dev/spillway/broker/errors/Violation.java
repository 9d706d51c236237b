package dev.spillway.broker.errors;

/**
 * One problem with a request.
 *
 * @param field       the field's path in the request, e.g. {@code spec.task.resources.cpu_millis}
 * @param description what is wrong and what would be right
 */
public record Violation(String field, String description) {
}
