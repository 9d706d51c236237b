package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.util.Map;

/** What was asked for does not exist (a job, a task, an attempt, a pool, a node). */
public final class NotFound extends BrokerException {

    public NotFound(String message) {
        super(ErrorReason.ERROR_REASON_NOT_FOUND, Map.of(), message);
    }

    /** {@code resource}: its resource name (e.g. {@code jobs/<id>}), for ErrorInfo's metadata. */
    public NotFound(String resource, String message) {
        super(ErrorReason.ERROR_REASON_NOT_FOUND, Map.of("resource", resource), message);
    }

    public static NotFound job(Object id) {
        return new NotFound("jobs/" + id, "no job " + id);
    }
}
