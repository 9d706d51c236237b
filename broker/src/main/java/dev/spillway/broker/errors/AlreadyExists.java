package dev.spillway.broker.errors;

/** What the request would create exists already, made differently (a request id reused with another spec). */
public final class AlreadyExists extends BrokerException {

    public AlreadyExists(String message) {
        super(message);
    }
}
