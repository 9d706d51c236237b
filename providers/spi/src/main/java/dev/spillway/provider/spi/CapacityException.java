package dev.spillway.provider.spi;

/** A provider call failed, typed so the broker can react (fall back, retry later, alert). */
public class CapacityException extends Exception {

    public enum Kind {
        /** The cloud has no capacity for this offering now (e.g. InsufficientInstanceCapacity, no spot). */
        INSUFFICIENT_CAPACITY,
        /** An account quota or limit stops the launch. */
        QUOTA_EXCEEDED,
        /** Rate limited even after the SDK's retries. */
        THROTTLED,
        /** The credentials lack a permission; the message names it. */
        UNAUTHORIZED,
        /** A pool setting is wrong (unknown image, subnet, region); the message names the setting. */
        INVALID_CONFIGURATION,
        /** The provider could not be reached or failed; worth retrying. */
        UNAVAILABLE
    }

    private final Kind kind;

    public CapacityException(Kind kind, String message) {
        this(kind, message, null);
    }

    public CapacityException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    /** Whether the offering should be hidden for a while and the next one tried. */
    public boolean offeringUnavailable() {
        return kind == Kind.INSUFFICIENT_CAPACITY || kind == Kind.QUOTA_EXCEEDED;
    }
}
