package dev.spillway.broker.errors;

/** The caller is known, but their role does not allow what they asked (or they named a tenant not theirs). */
public final class PermissionDenied extends BrokerException {

    public PermissionDenied(String message) {
        super(message);
    }
}
