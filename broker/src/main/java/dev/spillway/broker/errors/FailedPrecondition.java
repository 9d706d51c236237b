package dev.spillway.broker.errors;

/**
 * The request is well formed but the system is not in a state that allows it (a hard budget without room for the job),
 * with a machine-readable reason ({@code google.rpc.ErrorInfo.reason}, e.g. {@code BUDGET_EXCEEDED}).
 */
public final class FailedPrecondition extends BrokerException {

    private final String reason;

    public FailedPrecondition(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
