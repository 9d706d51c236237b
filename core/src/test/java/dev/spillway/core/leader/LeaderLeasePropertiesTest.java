package dev.spillway.core.leader;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.PriorityQueue;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * The leader lease under any interleaving of brokers that take, renew, release and write, with
 * requests delayed on their way to the database and back, brokers paused for long stretches, and
 * local clocks that run fast or slow within the allowed drift:
 * <ul>
 *   <li>a takeover happens only after the lease expired, and epochs strictly increase;</li>
 *   <li>at most one broker holds the lease at any database time;</li>
 *   <li>no two brokers believe they lead at the same real time ({@link LeaderLease#believedUntil});</li>
 *   <li>a write is admitted only with the epoch of the lease as it is when the write reaches the
 *       database: a deposed leader's late writes change nothing.</li>
 * </ul>
 * Real time is the database's clock here (microseconds); each broker reads its own monotonic clock,
 * {@code offset + rate × real time} in nanoseconds.
 */
class LeaderLeasePropertiesTest {

    private static final Duration TTL = Duration.ofSeconds(10);
    private static final double DRIFT = 0.01;
    private static final Duration MARGIN = Duration.ofMillis(500);

    enum Kind { TAKE, RENEW, RELEASE, WRITE }

    /** A broker's request: sent {@code gapMicros} after the previous request, {@code toDbMicros} on its way, {@code backMicros} back. */
    record Request(int broker, Kind kind, long gapMicros, long toDbMicros, long backMicros) {
    }

    /** A broker's clock: its monotonic reading at real time t (µs) is offset + rate × t × 1000. */
    record Clock(long offsetNanos, double rate) {
        long at(long realMicros) {
            return offsetNanos + (long) (rate * realMicros * 1000);
        }

        /** The real time (µs) at which the reading reaches {@code nanos}. */
        double realAt(long nanos) {
            return (nanos - offsetNanos) / rate / 1000;
        }
    }

    record Scenario(List<Clock> clocks, List<Request> requests) {
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<Clock> clock = Combinators.combine(Arbitraries.longs().between(-1_000_000_000_000L, 1_000_000_000_000L),
                Arbitraries.doubles().between(1 - DRIFT, 1 + DRIFT)).as(Clock::new);
        // Gaps up to 30 s (a broker paused past its lease), trips to the database up to 3 s (a slow or restarting database).
        // Mostly brokers that try every fraction of a second (as followers do, to take over right at expiry); sometimes a long pause.
        Arbitrary<Long> gap = Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.longs().between(0, 300_000)),
                Tuple.of(2, Arbitraries.longs().between(0, 4_000_000)), Tuple.of(1, Arbitraries.longs().between(0, 30_000_000)));
        Arbitrary<Long> trip = Arbitraries.oneOf(Arbitraries.longs().between(0, 50_000), Arbitraries.longs().between(0, 3_000_000));
        Arbitrary<Request> request = Combinators.combine(Arbitraries.integers().between(0, 2), Arbitraries.of(Kind.class), gap, trip, trip)
                .as(Request::new);
        return Combinators.combine(clock.list().ofSize(3), request.list().ofMinSize(1).ofMaxSize(300)).as(Scenario::new);
    }

    /** What a broker knows from the replies it has had. */
    private static final class Broker {
        final String name;
        final Clock clock;
        long epoch;
        boolean holding;
        long believedUntil;
        /** Whether it released the lease: a broker releases as it shuts down, and acts on no reply after that. */
        boolean released;
        /** Real-time intervals (µs) during which it believed it led. */
        final List<double[]> beliefs = new ArrayList<>();

        Broker(String name, Clock clock) {
            this.name = name;
            this.clock = clock;
        }
    }

    /** A request in flight, ordered by when it happens next. */
    private record Event(double at, int order, Request request, long sentAt, long epochSent, Runnable reply) {
    }

    @Property(tries = 400)
    void theLeaseKeepsOneLeaderAndFencesTheOthers(@ForAll("scenarios") Scenario scenario) {
        List<Broker> brokers = new ArrayList<>();
        for (int i = 0; i < scenario.clocks().size(); i++) brokers.add(new Broker("broker-" + i, scenario.clocks().get(i)));
        LeaderLease[] row = {LeaderLease.VACANT};
        // Each epoch's tenure in database time, half open: {epoch, taken at, ends at}; held through its expiry, or until released.
        java.util.Map<Long, long[]> tenures = new java.util.TreeMap<>();
        List<Long> takenEpochs = new ArrayList<>();
        PriorityQueue<Event> events = new PriorityQueue<>(Comparator.comparingDouble(Event::at).thenComparingInt(Event::order));
        int order = 0;
        long sent = 0;
        for (Request r : scenario.requests()) {
            sent += r.gapMicros();
            long sentAt = sent;
            events.add(new Event(sentAt, order++, r, sentAt, -1, null));
        }
        while (!events.isEmpty()) {
            Event e = events.poll();
            Request r = e.request();
            Broker b = brokers.get(r.broker());
            if (e.reply() != null) {
                e.reply().run();
                continue;
            }
            if (e.epochSent() < 0) {
                if (r.kind() == Kind.RELEASE && b.holding) {
                    // A broker steps down before it releases: once the release is sent, another may take over at any moment.
                    b.holding = false;
                    cut(b, e.at());
                }
                if (r.kind() == Kind.RELEASE) b.released = true;
                // Sent now, with what the broker knows now: it reaches the database later.
                // At the database later, with the epoch the broker holds now (0 before it ever held one): never negative.
                events.add(new Event(e.at() + r.toDbMicros(), order++, r, e.sentAt(), b.epoch, null));
                continue;
            }
            long now = (long) e.at();
            LeaderLease before = row[0];
            Optional<LeaderLease> after = switch (r.kind()) {
                case TAKE -> before.take(b.name, now, TTL);
                case RENEW -> before.renew(b.name, e.epochSent(), now, TTL);
                case RELEASE -> before.release(b.name, e.epochSent());
                case WRITE -> {
                    // A leader-only write carries the epoch its broker holds; the database admits it only with the current one.
                    boolean admitted = before.admits(e.epochSent()) && e.epochSent() > 0;
                    if (admitted) {
                        assertThat(before.holder()).isEqualTo(b.name);
                        assertThat(before.epoch()).isEqualTo(e.epochSent());
                    }
                    yield Optional.empty();
                }
            };
            if (after.isPresent()) {
                LeaderLease next = after.get();
                if (r.kind() == Kind.TAKE) {
                    assertThat(before.expired(now) || b.name.equals(before.holder())).as("taken from another only after expiry").isTrue();
                    if (!takenEpochs.isEmpty()) assertThat(next.epoch()).isGreaterThan(takenEpochs.get(takenEpochs.size() - 1));
                    takenEpochs.add(next.epoch());
                }
                row[0] = next;
                // A takeover ends the previous epoch's tenure (its holder's own re-take included: its old epoch is fenced off).
                if (r.kind() == Kind.TAKE && tenures.containsKey(before.epoch())) {
                    long[] previous = tenures.get(before.epoch());
                    previous[2] = Math.min(previous[2], now);
                }
                long end = r.kind() == Kind.RELEASE ? now : next.expiresAt() + 1;
                tenures.computeIfAbsent(next.epoch(), k -> new long[] {k, now, end})[2] = end;
            }
            boolean granted = after.isPresent() && (r.kind() == Kind.TAKE || r.kind() == Kind.RENEW);
            long grantedEpoch = after.map(LeaderLease::epoch).orElse(-1L);
            long sentReading = b.clock.at(e.sentAt());
            events.add(new Event(e.at() + r.backMicros(), order++, r, e.sentAt(), e.epochSent(), () -> {
                double replyAt = e.at() + r.backMicros();
                if (granted && !b.released) {
                    b.epoch = grantedEpoch;
                    b.holding = true;
                    b.believedUntil = LeaderLease.believedUntil(sentReading, TTL, DRIFT, MARGIN);
                    double end = b.clock.realAt(b.believedUntil);
                    if (end > replyAt) b.beliefs.add(new double[] {replyAt, end});
                } else if (r.kind() == Kind.RENEW && b.holding && b.epoch == e.epochSent()) {
                    b.holding = false; // the renewal was refused: it steps down at once
                    cut(b, replyAt);
                }
            }));
        }
        // At most one holder at any database time: the tenures of different epochs do not overlap.
        for (long[] g : tenures.values()) {
            for (long[] h : tenures.values()) {
                if (g[0] < h[0]) assertThat(g[2]).as("epoch %d's lease ends before epoch %d's begins", g[0], h[0]).isLessThanOrEqualTo(h[1]);
            }
        }
        // No two brokers believe they lead at the same real time.
        for (Broker a : brokers) {
            for (Broker c : brokers) {
                if (a == c) continue;
                for (double[] x : a.beliefs) {
                    for (double[] y : c.beliefs) {
                        assertThat(x[1] <= y[0] || y[1] <= x[0]).as("%s %s and %s %s overlap", a.name, java.util.Arrays.toString(x), c.name,
                                java.util.Arrays.toString(y)).isTrue();
                    }
                }
            }
        }
    }

    /** The broker stops believing at real time {@code at}. */
    private static void cut(Broker b, double at) {
        for (double[] belief : b.beliefs) {
            if (belief[1] > at) belief[1] = Math.max(belief[0], at);
        }
    }

    @Example
    void aTakeoverWaitsForExpiryAndRaisesTheEpoch() {
        LeaderLease a = LeaderLease.VACANT.take("a", 0, TTL).orElseThrow();
        assertThat(a.epoch()).isEqualTo(1);
        assertThat(a.take("b", 9_999_999, TTL)).isEmpty();
        assertThat(a.take("b", 10_000_000, TTL)).as("expires at exactly now: not yet expired").isEmpty();
        LeaderLease b = a.take("b", 10_000_001, TTL).orElseThrow();
        assertThat(b.epoch()).isEqualTo(2);
        assertThat(b.admits(1)).isFalse();
        assertThat(b.renew("a", 1, 10_000_002, TTL)).as("the deposed holder cannot renew").isEmpty();
    }

    @Example
    void aReleasedLeaseIsTakenAtOnce() {
        LeaderLease a = LeaderLease.VACANT.take("a", 0, TTL).orElseThrow();
        LeaderLease released = a.release("a", 1).orElseThrow();
        assertThat(released.take("b", 1, TTL)).isPresent();
        assertThat(a.release("b", 1)).as("only the holder releases").isEmpty();
    }

    @Example
    void aLateRenewalWithNoTakeoverKeepsTheEpoch() {
        LeaderLease a = LeaderLease.VACANT.take("a", 0, TTL).orElseThrow();
        LeaderLease renewed = a.renew("a", 1, 30_000_000, TTL).orElseThrow();
        assertThat(renewed.epoch()).isEqualTo(1);
        assertThat(renewed.expiresAt()).isEqualTo(40_000_000);
    }

    @Example
    void aSlowClockStopsBelievingBeforeTheLeaseExpires() {
        Clock slow = new Clock(0, 1 - DRIFT);
        long sentAt = 0; // real µs; the database grants at once, so the lease expires at exactly TTL
        long until = LeaderLease.believedUntil(slow.at(sentAt), TTL, DRIFT, MARGIN);
        assertThat(slow.realAt(until)).isLessThan(TTL.toNanos() / 1000.0);
        // Without the allowance for drift, a slow clock would still believe after the lease expired.
        assertThat(slow.realAt(LeaderLease.believedUntil(slow.at(sentAt), TTL, 0, Duration.ZERO))).isGreaterThan(TTL.toNanos() / 1000.0);
    }

    @Example
    void beliefEndsBeforeTheLeaseWhateverTheDrift() {
        long until = LeaderLease.believedUntil(Long.MAX_VALUE - 1_000, TTL, DRIFT, MARGIN);
        // Wraps around: compared by subtraction only.
        assertThat(LeaderLease.before(Long.MAX_VALUE, until)).isTrue();
        assertThat(until - (Long.MAX_VALUE - 1_000)).isEqualTo((long) (TTL.toNanos() * (1 - DRIFT)) - MARGIN.toNanos());
    }
}
