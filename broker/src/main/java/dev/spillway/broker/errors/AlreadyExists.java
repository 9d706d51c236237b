package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.util.Map;

/** What the request would create exists already, made differently (a request id reused with another spec). */
public final class AlreadyExists extends BrokerException {

    private AlreadyExists(ErrorReason reason, Map<String, String> metadata, String message) {
        super(reason, metadata, message);
    }

    /** A request id used before for another request, which created {@code job} (its resource name). */
    public static AlreadyExists requestIdReused(String job, String message) {
        return new AlreadyExists(ErrorReason.ERROR_REASON_REQUEST_ID_REUSED, Map.of("job", job), message);
    }
}
