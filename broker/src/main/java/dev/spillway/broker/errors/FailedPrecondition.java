package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.util.Map;

/**
 * The request is well formed but the system is not in a state that allows it (a hard budget
 * without room for the job).
 */
public final class FailedPrecondition extends BrokerException {

    public FailedPrecondition(ErrorReason reason, Map<String, String> metadata, String message) {
        super(reason, metadata, message);
    }
}
