package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.util.Map;

/** Cannot be done right now (e.g. the node holding the logs is not connected); retrying later may work. */
public final class Unavailable extends BrokerException {

    public Unavailable(String message) {
        super(ErrorReason.ERROR_REASON_UNAVAILABLE, Map.of(), message);
    }
}
