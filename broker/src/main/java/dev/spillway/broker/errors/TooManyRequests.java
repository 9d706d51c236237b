package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.time.Duration;
import java.util.Map;

/** The caller is over one of its limits (request rate, open streams); it may try again after {@code retryAfter} when known. */
public final class TooManyRequests extends BrokerException {

    private final Duration retryAfter;

    /** {@code reason}: which limit (rate, streams, a broker-wide one). */
    public TooManyRequests(ErrorReason reason, String message, Duration retryAfter) {
        super(reason, Map.of(), message);
        this.retryAfter = retryAfter;
    }

    /** Null when waiting alone will not help (close other streams first). */
    public Duration retryAfter() {
        return retryAfter;
    }
}
