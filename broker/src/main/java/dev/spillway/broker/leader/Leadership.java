package dev.spillway.broker.leader;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.DatabaseConfigSource;
import dev.spillway.broker.store.Fencing;
import dev.spillway.broker.store.LeaderStore;
import dev.spillway.broker.tls.BrokerTransport;
import dev.spillway.core.leader.LeaderLease;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.interceptor.Interceptor;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

/**
 * Whether this broker leads, by the lease in the database ({@link LeaderStore}, the rules of
 * {@link LeaderLease}). A follower tries to take the lease every {@code renew-every}; the leader
 * renews it as often. The leader acts as leader only while {@link #isLeader()}: until its lease
 * could run out by its own monotonic clock, less the allowance for drift and the margin
 * ({@link LeaderLease#believedUntil}). When it cannot renew in time, or the database refuses one
 * of its writes for a newer epoch, it steps down at once: its loops stop at their next turn, its
 * epoch stops being written with ({@link Fencing#drop}), and its agents are sent to the leader.
 *
 * <p>{@link Elected} and {@link SteppedDown} tell the rest of the broker. A broker alone on its
 * embedded database owns that database: it takes the lease at start even if an earlier process of
 * its own left it unexpired (that process is gone; its epoch is fenced off by the new one).
 */
@ApplicationScoped
public class Leadership {

    private static final Logger LOG = Logger.getLogger(Leadership.class);

    /** This broker took the lease with {@code epoch}. */
    public record Elected(long epoch) {
    }

    /** This broker no longer leads; {@code leaderAddress} is the new leader's when known (else null). */
    public record SteppedDown(long epoch, String why, String leaderAddress) {
    }

    private final LeaderStore store;
    private final Fencing fencing;
    private final DatabaseCalls db;
    private final Event<Elected> elected;
    private final Event<SteppedDown> steppedDown;
    private final BrokerTransport transport;
    private final Clock clock;
    private final String id;
    private final Duration ttl;
    private final Duration renewEvery;
    private final double maxDrift;
    private final Duration margin;
    private final Optional<String> advertise;
    private final String version;
    private final Instant startedAt;
    private final boolean ownsDatabase;
    private ScheduledExecutorService timer;

    /** Held while leadership changes and while the change is announced: a step-down and an election never interleave. */
    private final Object transitions = new Object();
    // Guarded by this.
    private boolean holding;
    private long epoch;
    private long believedUntil;
    private boolean inFlight;
    private boolean stopping;
    /** When (monotonic) the last take or renewal was sent. */
    private long lastAttemptNanos = System.nanoTime() - Long.MAX_VALUE / 4;
    /** When (monotonic) the lease another broker holds runs out by the database's clock, as last read; a follower tries then. */
    private long othersExpiryNanos;
    private boolean othersExpiryKnown;
    /** The lease as this broker last read or wrote it: who leads, where, until when. */
    private volatile LeaderStore.Lease lastKnown;

    public Leadership(LeaderStore store, Fencing fencing, DatabaseCalls db, Event<Elected> elected, Event<SteppedDown> steppedDown,
                      BrokerTransport transport, BrokerConfig config, Clock clock, MeterRegistry registry) {
        this.store = store;
        this.fencing = fencing;
        this.db = db;
        this.elected = elected;
        this.steppedDown = steppedDown;
        this.transport = transport;
        this.clock = clock;
        BrokerConfig.Leader settings = config.leader();
        this.ttl = positive("spillway.leader.ttl", settings.ttl());
        this.renewEvery = positive("spillway.leader.renew-every", settings.renewEvery().orElse(ttl.dividedBy(4)));
        this.maxDrift = settings.maxClockDrift();
        this.margin = settings.margin();
        if (LeaderLease.believedUntil(0, ttl, maxDrift, margin) <= renewEvery.toNanos()) {
            throw new IllegalArgumentException("spillway.leader.ttl (" + ttl + ") less the clock drift and margin (" + margin
                    + ") must leave more than spillway.leader.renew-every (" + renewEvery + ") for the leader to renew in time");
        }
        this.advertise = settings.advertise();
        this.id = settings.id().orElseGet(() -> hostName() + "-" + UUID.randomUUID().toString().substring(0, 8));
        this.version = Optional.ofNullable(Leadership.class.getPackage().getImplementationVersion()).orElse("dev");
        this.startedAt = clock.instant();
        this.ownsDatabase = DatabaseConfigSource.embeddedStarted();
        fencing.onFenced(refused -> stepDown(refused, "the database refused a write of epoch " + refused + ": another broker has taken over"));
        Gauge.builder("spillway_leader", () -> isLeader() ? 1 : 0).tag("instance", id)
                .description("1 while this broker leads (holds the leader lease), else 0").register(registry);
    }

    private static Duration positive(String name, Duration d) {
        if (d.isZero() || d.isNegative()) throw new IllegalArgumentException(name + " must be positive (got " + d + ")");
        return d;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "broker";
        }
    }

    /**
     * Takes the lease before the rest of the broker starts its loops, if it is free (or the
     * database is this broker's own), then keeps it or keeps trying on its own thread.
     */
    void start(@Observes @Priority(Interceptor.Priority.PLATFORM_BEFORE) StartupEvent event) {
        try {
            attempt().await().atMost(db.bound());
        } catch (RuntimeException e) {
            LOG.warnf("could not reach the leader lease at start (%s); trying again every %d ms", DatabaseCalls.unavailableBecause(e),
                    renewEvery.toMillis());
        }
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-leader");
            t.setDaemon(true);
            return t;
        });
        long every = renewEvery.toMillis();
        // Checks the belief more often than it renews: a leader whose lease runs out steps down within 100 ms.
        timer.scheduleWithFixedDelay(this::tick, Math.min(every, 100), Math.min(every, 100), TimeUnit.MILLISECONDS);
        if (!isLeader()) {
            LeaderStore.Lease l = lastKnown;
            LOG.infof("broker %s follows%s; it serves the API and takes over if the leader stops renewing its lease (ttl %d s)", id,
                    l == null || !l.held() ? "" : " " + l.holder() + " at " + l.address() + " (epoch " + l.epoch() + ")", ttl.toSeconds());
        }
    }

    /** Steps down and releases the lease after the rest of the broker has stopped, so that a follower takes over at once. */
    void stop(@Observes @Priority(Interceptor.Priority.LIBRARY_AFTER + 1000) ShutdownEvent event) {
        if (timer != null) timer.shutdownNow();
        long held;
        synchronized (this) {
            stopping = true;
            if (!holding) return;
            held = epoch;
        }
        stepDown(held, "the broker is shutting down");
        try {
            if (store.release(id, held).await().atMost(Duration.ofSeconds(2))) LOG.infof("released the leader lease (epoch %d)", held);
        } catch (RuntimeException e) {
            LOG.warnf("could not release the leader lease (%s); a follower takes over when it expires", DatabaseCalls.unavailableBecause(e));
        }
    }

    /** Whether this broker leads now: it holds the lease and, by its own clock, the lease cannot have run out yet. */
    public boolean isLeader() {
        synchronized (this) {
            return holding && LeaderLease.before(System.nanoTime(), believedUntil);
        }
    }

    /** The epoch this broker leads with, or 0 when it does not lead. */
    public long term() {
        synchronized (this) {
            return holding && LeaderLease.before(System.nanoTime(), believedUntil) ? epoch : 0;
        }
    }

    /** This broker's name among its peers. */
    public String id() {
        return id;
    }

    /** Where other brokers and agents reach this broker. */
    public String address() {
        if (advertise.isPresent()) return advertise.get();
        var config = ConfigProvider.getConfig();
        String port = config.getOptionalValue(transport.tls() ? "quarkus.http.ssl-port" : "quarkus.http.port", String.class).orElse("7070");
        String host = config.getOptionalValue("quarkus.http.host", String.class).orElse("127.0.0.1");
        if (host.equals("0.0.0.0") || host.equals("::")) host = hostName();
        return host + ":" + port;
    }

    /** Where the leader is reached, if another broker leads and this broker knows it; else empty. */
    public Optional<String> leaderAddress() {
        LeaderStore.Lease l = lastKnown;
        if (l == null || !l.held() || id.equals(l.holder())) return Optional.empty();
        return Optional.ofNullable(l.address());
    }

    private void tick() {
        try {
            long lapsed = 0;
            synchronized (this) {
                if (holding && !LeaderLease.before(System.nanoTime(), believedUntil)) lapsed = epoch;
            }
            if (lapsed != 0) stepDown(lapsed, "could not renew the leader lease in time (ttl " + ttl.toSeconds() + " s)");
            attempt().subscribe().with(v -> { }, e -> { });
        } catch (RuntimeException e) {
            LOG.errorf(e, "leader lease check failed; trying again");
        }
    }

    /** One take or renewal, if one is due and none is in flight. */
    private Uni<Void> attempt() {
        long sent = System.nanoTime();
        boolean renewing;
        long held;
        synchronized (this) {
            boolean due = sent - lastAttemptNanos >= renewEvery.toNanos() || (othersExpiryKnown && sent - othersExpiryNanos >= 0);
            if (inFlight || stopping || !due) return Uni.createFrom().voidItem();
            othersExpiryKnown = false;
            inFlight = true;
            lastAttemptNanos = sent;
            renewing = holding;
            held = epoch;
        }
        String address = address();
        // A broker alone on its embedded database takes it at its first attempt, whatever an earlier process of its own left.
        boolean force = ownsDatabase && !renewing && lastKnown == null;
        Uni<LeaderStore.Lease> call = renewing ? store.renew(id, held, address, ttl) : store.take(id, address, ttl, force);
        return call
                .flatMap(granted -> granted != null ? Uni.createFrom().item(new Answer(granted, true))
                        : store.read().map(current -> new Answer(current, false)))
                .ifNoItem().after(renewEvery).fail()
                .invoke(answer -> answered(sent, renewing, held, answer))
                .call(answer -> store.seen(id, address, version, startedAt).onFailure().recoverWithNull())
                .onFailure().invoke(e -> LOG.debugf("leader lease: %s", DatabaseCalls.unavailableBecause(e)))
                .onTermination().invoke(() -> {
                    synchronized (this) {
                        inFlight = false;
                    }
                })
                .replaceWithVoid();
    }

    /** The database's answer to a take or renewal: the lease as it now is, and whether it was granted to this broker. */
    private record Answer(LeaderStore.Lease lease, boolean granted) {
    }

    private void answered(long sentNanos, boolean renewing, long heldEpoch, Answer answer) {
        LeaderStore.Lease lease = answer.lease();
        lastKnown = lease;
        if (!answer.granted() && lease.held()) {
            // Try again right after it runs out (by the database's clock, as far from now as it was from the read), not a
            // whole renewal interval later: a dead leader's lease is taken over within a tick of its expiry.
            long untilExpiry = java.time.Duration.between(lease.dbNow(), lease.expiresAt()).toNanos() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(20);
            synchronized (this) {
                othersExpiryNanos = sentNanos + Math.max(0, untilExpiry);
                othersExpiryKnown = true;
            }
        }
        if (!answer.granted()) {
            if (renewing) stepDown(heldEpoch, "another broker took the leader lease (" + lease.holder() + ", epoch " + lease.epoch() + ")");
            return;
        }
        synchronized (transitions) {
            elected(sentNanos, renewing, heldEpoch, lease);
        }
    }

    private void elected(long sentNanos, boolean renewing, long heldEpoch, LeaderStore.Lease lease) {
        boolean newlyElected;
        synchronized (this) {
            if (stopping) return;
            long until = LeaderLease.believedUntil(sentNanos, ttl, maxDrift, margin);
            newlyElected = !holding || epoch != lease.epoch();
            if (renewing && (!holding || epoch != heldEpoch)) return; // stepped down meanwhile: a late renewal does not bring it back
            if (newlyElected) fencing.hold(lease.epoch()); // before it acts as leader: its first writes carry the epoch
            holding = true;
            epoch = lease.epoch();
            believedUntil = newlyElected || LeaderLease.before(believedUntil, until) ? until : believedUntil;
        }
        if (newlyElected) {
            LOG.infof("broker %s leads (epoch %d, lease of %d s renewed every %d ms, advertised at %s)", id, lease.epoch(), ttl.toSeconds(),
                    renewEvery.toMillis(), lease.address());
            elected.fire(new Elected(lease.epoch()));
        }
    }

    /**
     * Stops leading with {@code term} at once: no more leader-only writes, the rest of the broker
     * told. Nothing happens if this broker no longer leads with that epoch (it stepped down already,
     * or was elected again since, with a new one).
     */
    private void stepDown(long term, String why) {
        synchronized (transitions) {
            synchronized (this) {
                if (!holding || epoch != term) return;
                holding = false;
                fencing.drop();
            }
            LOG.warnf("broker %s no longer leads (epoch %d): %s", id, term, why);
            steppedDown.fire(new SteppedDown(term, why, leaderAddress().orElse(null)));
        }
    }
}
