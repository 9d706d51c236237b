package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.util.Map;

/**
 * A failure the broker's features report in domain terms. Only the {@code api} package turns
 * these into gRPC status codes and problem+json; features never speak gRPC or HTTP. Each carries
 * its {@link ErrorReason} and metadata, which clients read as {@code google.rpc.ErrorInfo}.
 */
public abstract sealed class BrokerException extends RuntimeException permits AlreadyExists, NotFound, InvalidRequest, Unavailable, Unauthenticated, PermissionDenied,
        TooManyRequests, FailedPrecondition {

    private final ErrorReason reason;
    private final Map<String, String> metadata;

    protected BrokerException(ErrorReason reason, Map<String, String> metadata, String message) {
        super(message, null, false, false);
        this.reason = reason;
        this.metadata = Map.copyOf(metadata);
    }

    /** Why, for programs: {@code google.rpc.ErrorInfo.reason}. */
    public ErrorReason reason() {
        return reason;
    }

    /** {@code google.rpc.ErrorInfo.metadata}: the names a program needs to act on the reason. */
    public Map<String, String> metadata() {
        return metadata;
    }
}
