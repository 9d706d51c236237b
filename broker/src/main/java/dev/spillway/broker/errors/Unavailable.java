package dev.spillway.broker.errors;

/** Cannot be done right now (e.g. the node holding the logs is not connected); retrying later may work. */
public final class Unavailable extends BrokerException {

    public Unavailable(String message) {
        super(message);
    }
}
