package dev.spillway.broker.errors;

import java.util.List;

/** The request cannot be served as it is: every problem, each named by its field. Nothing was stored. */
public final class InvalidRequest extends BrokerException {

    private final List<Violation> violations;

    public InvalidRequest(List<Violation> violations) {
        super(summary(violations));
        if (violations.isEmpty()) throw new IllegalArgumentException("an invalid request needs at least one violation");
        this.violations = List.copyOf(violations);
    }

    public static InvalidRequest of(String field, String description) {
        return new InvalidRequest(List.of(new Violation(field, description)));
    }

    public List<Violation> violations() {
        return violations;
    }

    private static String summary(List<Violation> v) {
        if (v.isEmpty()) return "invalid request";
        Violation first = v.get(0);
        return "invalid request: " + (v.size() == 1 ? "" : v.size() + " problems, first: ") + first.field() + ": " + first.description();
    }
}
