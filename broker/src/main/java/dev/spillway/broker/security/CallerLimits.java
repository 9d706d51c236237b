package dev.spillway.broker.security;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.TooManyRequests;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.TokenBucket;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Limits against abuse, per caller and per tenant: open streams per caller, and a token bucket of
 * submissions per tenant. Counted on this broker (each replica counts its own).
 */
@ApplicationScoped
public class CallerLimits {

    private final int streamsPerCaller;
    private final double submitRate;
    private final double submitBurst;
    private final Map<String, AtomicInteger> streams = new ConcurrentHashMap<>();
    private final Map<String, TokenBucket> submissions = new ConcurrentHashMap<>();
    private final Map<String, TokenBucket> refusals = new ConcurrentHashMap<>();

    public CallerLimits(BrokerConfig config) {
        this.streamsPerCaller = config.limits().streamsPerCaller();
        this.submitRate = config.limits().submitRate();
        this.submitBurst = config.limits().submitBurst();
    }

    /** One more open stream for {@code caller}; the returned runnable gives it back (call it once). */
    public Runnable openStream(Caller caller) {
        AtomicInteger open = streams.computeIfAbsent(caller.subject(), s -> new AtomicInteger());
        if (open.incrementAndGet() > streamsPerCaller) {
            open.decrementAndGet();
            throw new TooManyRequests(dev.spillway.api.v1.ErrorReason.ERROR_REASON_STREAM_LIMIT_EXCEEDED, "at most " + streamsPerCaller + " watch and log streams may be open per caller; close one first", null);
        }
        return open::decrementAndGet;
    }

    /** Admits a submission of {@code tasks} tasks to {@code tenant}, or throws TooManyRequests with when to retry. */
    public void admitSubmission(String tenant, int tasks) {
        double cost = 1 + tasks / 1000.0;
        TokenBucket bucket = submissions.computeIfAbsent(tenant, t -> new TokenBucket(submitRate, submitBurst, System.nanoTime()));
        long wait;
        synchronized (bucket) {
            wait = bucket.take(cost, System.nanoTime());
        }
        if (wait > 0) {
            Duration retry = Duration.ofNanos(wait);
            throw new TooManyRequests(dev.spillway.api.v1.ErrorReason.ERROR_REASON_RATE_LIMIT_EXCEEDED, "tenant " + tenant + " is over its submission rate (" + submitRate + "/s); retry in "
                    + Math.max(1, retry.toMillis()) + " ms", retry);
        }
    }

    /**
     * Whether a refusal from {@code source} (a network address) is still worth a log line and an
     * audit row: at most 20 at once and one a second per address, so whoever can reach the port
     * cannot fill the audit table or the log with refused registrations.
     */
    public boolean admitRefusalRecord(String source) {
        String host = source == null ? "unknown" : source.replaceFirst(":\\d+$", "");
        if (refusals.size() > 10_000) refusals.clear();
        TokenBucket bucket = refusals.computeIfAbsent(host, h -> new TokenBucket(1, 20, System.nanoTime()));
        synchronized (bucket) {
            return bucket.take(1, System.nanoTime()) == 0;
        }
    }
}
