package dev.spillway.provider.spi;

import java.util.List;
import java.util.Map;

/**
 * A source of machines that boot the Spillway agent: a cloud account (AWS, Azure) or the
 * simulated {@code local} cloud. Deliberately small: planning, budgets and lifecycles are the
 * broker's; a provider only prices, launches, lists and terminates.
 *
 * <p>Calls may block (they talk to a cloud); the broker makes them from worker threads.
 */
public interface CapacityProvider {

    /** {@code local}, {@code aws} or {@code azure}. */
    String kind();

    /**
     * What can be launched now, with prices in USD per hour. An instance type of the pool that the
     * cloud does not know, restricts or has no price for is left out (or offered unavailable) and
     * named in {@link #unusableInstanceTypes()}; it never makes the whole read fail.
     */
    List<InstanceOffering> offerings() throws CapacityException;

    /**
     * The pool's instance types that the last successful {@link #offerings()} read could not offer,
     * each with why, for people to read (e.g. {@code m6i.nosuch → "not an EC2 instance type in
     * eu-central-1 (InvalidInstanceType)"}). None of them is among the available offerings of that
     * read. Empty before the first read and for providers without a list of instance types; a
     * failed read leaves it as it was.
     */
    default Map<String, String> unusableInstanceTypes() {
        return Map.of();
    }

    /**
     * Launches one instance that boots the agent with {@code request.bootstrap()}. Idempotent: a
     * second call with the same idempotency key (even after a broker crash) returns the instance
     * of the first and launches nothing.
     *
     * @throws CapacityException of kind {@link CapacityException.Kind#INSUFFICIENT_CAPACITY} or
     *         {@link CapacityException.Kind#QUOTA_EXCEEDED} when this offering cannot be had now;
     *         the broker then hides it for a while and falls back to the next one
     */
    Instance launch(LaunchRequest request) throws CapacityException;

    /** Every instance carrying {@code Tags.CLUSTER = cluster}, whatever its state. */
    List<Instance> list(String cluster) throws CapacityException;

    /** Terminates an instance. Terminating one that is already gone is success. */
    void terminate(String instanceId) throws CapacityException;
}
