package dev.spillway.broker.errors;

import java.time.Duration;

/** The caller is over one of its limits (request rate, open streams); it may try again after {@code retryAfter} when known. */
public final class TooManyRequests extends BrokerException {

    private final Duration retryAfter;

    public TooManyRequests(String message, Duration retryAfter) {
        super(message);
        this.retryAfter = retryAfter;
    }

    /** Null when waiting alone will not help (close other streams first). */
    public Duration retryAfter() {
        return retryAfter;
    }
}
