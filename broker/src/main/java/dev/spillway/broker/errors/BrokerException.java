package dev.spillway.broker.errors;

/**
 * A failure the broker's features report in domain terms. Only the {@code api} package turns
 * these into gRPC status codes and problem+json; features never speak gRPC or HTTP.
 */
public abstract sealed class BrokerException extends RuntimeException permits AlreadyExists, NotFound, InvalidRequest, Unavailable, Unauthenticated, PermissionDenied,
        TooManyRequests, FailedPrecondition {

    protected BrokerException(String message) {
        super(message, null, false, false);
    }
}
