package dev.spillway.provider.spi;

/** Tags Spillway puts on every instance it launches, so it can find its own. */
public final class Tags {

    private Tags() {}

    /** The broker cluster that owns the instance. */
    public static final String CLUSTER = "spillway:cluster";
    /** The cloud pool the instance serves. */
    public static final String POOL = "spillway:pool";
    /** The launch request (idempotency key) that created it. */
    public static final String REQUEST = "spillway:request";
}
