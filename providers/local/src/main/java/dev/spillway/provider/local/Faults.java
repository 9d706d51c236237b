package dev.spillway.provider.local;

import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.LaunchRequest;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** What the local cloud can be told to do wrong, for tests and demos. */
public final class Faults {

    private final AtomicInteger failingLaunches = new AtomicInteger();
    private final AtomicInteger quotaExceeded = new AtomicInteger();
    private final AtomicInteger lostResponses = new AtomicInteger();
    private final Set<String> noCapacity = ConcurrentHashMap.newKeySet();
    private final Set<String> neverBoot = ConcurrentHashMap.newKeySet();
    private volatile boolean haltDuringLaunch;

    /** The next {@code n} launches fail as if the cloud's API were down. */
    public Faults failNextLaunches(int n) {
        failingLaunches.set(n);
        return this;
    }

    /** The next {@code n} launches are refused for an account quota (as a cloud's vCPU or cores limit refuses them). */
    public Faults quotaExceededNext(int n) {
        quotaExceeded.set(n);
        return this;
    }

    /**
     * The next {@code n} launches are carried out, but their answer is lost on the way back: the
     * call fails as unavailable, and a retry with the same idempotency key finds the instance.
     */
    public Faults loseNextLaunchResponses(int n) {
        lostResponses.set(n);
        return this;
    }

    /** Launches of this offering fail with insufficient capacity until {@link #capacityBack}. */
    public Faults noCapacity(String instanceType, String zone, boolean spot) {
        noCapacity.add(key(instanceType, zone, spot));
        return this;
    }

    public Faults capacityBack(String instanceType, String zone, boolean spot) {
        noCapacity.remove(key(instanceType, zone, spot));
        return this;
    }

    /** Instances of this type are accepted but never start their agent. */
    public Faults neverBoot(String instanceType) {
        neverBoot.add(instanceType);
        return this;
    }

    /**
     * Crash-recovery testing: the process halts (as on kill -9) right after the local cloud has
     * accepted a launch and before the call returns to the broker.
     */
    public Faults haltDuringLaunch() {
        haltDuringLaunch = true;
        return this;
    }

    void afterAccepting() throws CapacityException {
        if (haltDuringLaunch) Runtime.getRuntime().halt(137);
        if (lostResponses.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new CapacityException(CapacityException.Kind.UNAVAILABLE, "injected: the local cloud's answer to a launch was lost");
        }
    }

    void beforeLaunch(LaunchRequest r) throws CapacityException {
        if (failingLaunches.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new CapacityException(CapacityException.Kind.UNAVAILABLE, "injected: the local cloud's API failed");
        }
        if (quotaExceeded.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new CapacityException(CapacityException.Kind.QUOTA_EXCEEDED, "injected: the local cloud's instance quota is used up");
        }
        if (noCapacity.contains(key(r.instanceType(), r.zone(), r.spot()))) {
            throw new CapacityException(CapacityException.Kind.INSUFFICIENT_CAPACITY,
                    "injected: no " + (r.spot() ? "spot " : "") + "capacity for " + r.instanceType() + " in " + r.zone());
        }
    }

    boolean neverBoots(String instanceType) {
        return neverBoot.contains(instanceType);
    }

    private static String key(String type, String zone, boolean spot) {
        return type + "@" + zone + (spot ? ":spot" : ":on-demand");
    }
}
