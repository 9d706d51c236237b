package dev.spillway.broker.errors;

/** The call carried no credential, or one the broker does not accept (unknown, expired, revoked, badly signed). */
public final class Unauthenticated extends BrokerException {

    public Unauthenticated(String message) {
        super(message);
    }
}
