package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.util.Map;

/** The call carried no credential, or one the broker does not accept (unknown, expired, revoked, badly signed). */
public final class Unauthenticated extends BrokerException {

    public Unauthenticated(String message) {
        super(ErrorReason.ERROR_REASON_UNAUTHENTICATED, Map.of(), message);
    }
}
