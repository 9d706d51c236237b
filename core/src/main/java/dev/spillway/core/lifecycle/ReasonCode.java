package dev.spillway.core.lifecycle;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Why a task or an instance is in its state: a stable code (stored, sent over the API, shown by
 * the CLI) with a short human description. The full message next to it says the particulars.
 */
public enum ReasonCode {
    // ---- tasks ----
    SUBMITTED("waiting for a node since it was submitted"),
    PLACED("placed on a node"),
    STARTED("its process started"),
    EXITED("its process exited"),
    START_FAILED("its process could not start"),
    TIMEOUT("it ran past its job's maxRuntime and was killed"),
    RETRY_BACKOFF("failed; waiting to be retried"),
    NODE_LOST("its node was lost"),
    HANDED_BACK("its draining node handed it back"),
    PREEMPTED("preempted: its tenant's borrowed quota was reclaimed by the lender"),
    CANCELLED("its job was cancelled"),
    // ---- cloud instances ----
    LAUNCHING("asked of the provider"),
    LAUNCHED("launched; waiting for its agent to join"),
    ADOPTED("launched before a broker restart; adopted"),
    JOINED("its agent joined"),
    NEVER_JOINED("its agent never joined in time"),
    NO_CAPACITY("the provider had no capacity for it"),
    SETUP_ERROR("the launch failed on credentials or pool settings"),
    IDLE("idle past scale-down-after"),
    MAKING_ROOM("drained to make room for a larger instance"),
    DRAINED("drained; its node holds no work"),
    NOT_NEEDED("no waiting task needs it any more"),
    VANISHED("the instance went away in the cloud"),
    SHUTDOWN("the broker's local setup stopped");

    private static final Map<String, ReasonCode> BY_CODE = new HashMap<>();

    static {
        for (ReasonCode r : values()) BY_CODE.put(r.code(), r);
    }

    private final String description;

    ReasonCode(String description) {
        this.description = description;
    }

    /** The stable wire and storage spelling, e.g. {@code node_lost}. */
    public String code() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** A short human description, e.g. "its node was lost". */
    public String description() {
        return description;
    }

    /** The reason with this code, or null for a code this version does not know. */
    public static ReasonCode fromCode(String code) {
        return code == null ? null : BY_CODE.get(code);
    }
}
