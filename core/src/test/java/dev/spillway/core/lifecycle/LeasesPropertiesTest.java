package dev.spillway.core.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/** The lease decision depends on monotonic time only, never loses a node heard within its lease, and none during the start grace. */
class LeasesPropertiesTest {

    private static final long SECOND = 1_000_000_000L;
    private static final Instant WALL = Instant.parse("2026-12-01T08:00:00Z");

    /** A node's last message, relative to the broker's start (may be before it), or never. */
    record Node(String name, Long heardAfterStartNanos, boolean admitting, long wallSkewSeconds) {
    }

    /** A situation: any monotonic origin (wrap-around included), a lease, a grace of at least the lease, nodes, now. */
    record Situation(long origin, Duration lease, Duration grace, List<Node> nodes, long nowAfterStartNanos) {

        Leases.Snapshot snapshot() {
            return snapshot(0, 0);
        }

        /** The snapshot with every monotonic reading shifted by {@code shift} and wall times stepped by {@code wallStep} seconds. */
        Leases.Snapshot snapshot(long shift, long wallStep) {
            long start = origin + shift;
            Map<String, Leases.Heard> heard = new HashMap<>();
            Set<String> admitting = new LinkedHashSet<>();
            for (Node n : nodes) {
                if (n.heardAfterStartNanos() != null) {
                    heard.put(n.name(), new Leases.Heard(start + n.heardAfterStartNanos(),
                            WALL.plusSeconds(n.wallSkewSeconds() + wallStep).plusNanos(n.heardAfterStartNanos() % SECOND)));
                }
                if (n.admitting()) admitting.add(n.name());
            }
            return new Leases.Snapshot(nodes.stream().map(Node::name).toList(), heard, admitting, start, grace, lease,
                    start + nowAfterStartNanos);
        }
    }

    @Provide
    Arbitrary<Situation> situations() {
        Arbitrary<Long> origin = Arbitraries.oneOf(Arbitraries.longs(), Arbitraries.of(Long.MAX_VALUE, Long.MIN_VALUE, 0L, Long.MAX_VALUE - 5 * SECOND));
        Arbitrary<Duration> lease = Arbitraries.longs().between(1, 60 * SECOND).map(Duration::ofNanos);
        Arbitrary<Long> extraGrace = Arbitraries.longs().between(0, 600 * SECOND);
        Arbitrary<Long> now = Arbitraries.oneOf(Arbitraries.longs().between(0, 3_600 * SECOND), Arbitraries.longs().between(0, 120 * SECOND));
        Arbitrary<Node> node = Combinators.combine(
                Arbitraries.longs().between(-60 * SECOND, 3_600 * SECOND).injectNull(0.2),
                Arbitraries.integers().between(0, 4).map(i -> i == 0), // some registrations under way
                Arbitraries.longs().between(-86_400 * 365, 86_400 * 365)).as((h, a, skew) -> new Node("n", h, a, skew));
        Arbitrary<List<Node>> nodes = node.list().ofMaxSize(12).map(list -> {
            List<Node> named = new java.util.ArrayList<>();
            for (int i = 0; i < list.size(); i++) named.add(new Node("node-" + i, list.get(i).heardAfterStartNanos(), list.get(i).admitting(),
                    list.get(i).wallSkewSeconds()));
            return named;
        });
        return Combinators.combine(origin, lease, extraGrace, nodes, now)
                .as((o, l, g, ns, t) -> new Situation(o, l, l.plusNanos(g), ns, t));
    }

    @Property(tries = 2000)
    void aStepOfTheWallClockChangesNothing(@ForAll("situations") Situation s, @ForAll @LongRange(min = -86_400 * 3650L, max = 86_400 * 3650L) long step) {
        List<Leases.Lost> before = Leases.lost(s.snapshot());
        List<Leases.Lost> after = Leases.lost(s.snapshot(0, step));
        assertThat(after).extracting(Leases.Lost::node).isEqualTo(before.stream().map(Leases.Lost::node).toList());
        assertThat(after).extracting(Leases.Lost::silence).isEqualTo(before.stream().map(Leases.Lost::silence).toList());
    }

    @Property(tries = 2000)
    void theMonotonicOriginDoesNotMatterEvenAcrossWrapAround(@ForAll("situations") Situation s, @ForAll long shift) {
        assertThat(Leases.lost(s.snapshot(shift, 0))).extracting(Leases.Lost::node, Leases.Lost::silence)
                .isEqualTo(Leases.lost(s.snapshot()).stream().map(l -> org.assertj.core.groups.Tuple.tuple(l.node(), l.silence())).toList());
    }

    @Property(tries = 2000)
    void aNodeHeardWithinTheLeaseIsNeverLost(@ForAll("situations") Situation s) {
        Set<String> lost = names(Leases.lost(s.snapshot()));
        long lease = s.lease().toNanos();
        for (Node n : s.nodes()) {
            Long heard = n.heardAfterStartNanos();
            if (heard != null && heard >= 0 && s.nowAfterStartNanos() - heard <= lease) assertThat(lost).doesNotContain(n.name());
        }
    }

    @Property(tries = 2000)
    void duringTheStartGraceNothingIsLost(@ForAll("situations") Situation s) {
        if (s.nowAfterStartNanos() < s.grace().toNanos()) assertThat(Leases.lost(s.snapshot())).isEmpty();
    }

    @Property(tries = 2000)
    void afterTheGraceEverySilentNodeNotBeingAdmittedIsLost(@ForAll("situations") Situation s) {
        if (s.nowAfterStartNanos() < s.grace().toNanos()) return;
        Set<String> expected = new LinkedHashSet<>();
        for (Node n : s.nodes()) {
            long reference = n.heardAfterStartNanos() == null || n.heardAfterStartNanos() < 0 ? 0 : n.heardAfterStartNanos();
            if (!n.admitting() && s.nowAfterStartNanos() - reference > s.lease().toNanos()) expected.add(n.name());
        }
        assertThat(names(Leases.lost(s.snapshot()))).isEqualTo(expected);
    }

    @Property
    void theGraceGrowsWithTheKnownNodesBetweenOneLeaseAndTheCap(@ForAll @LongRange(min = 0, max = 3_600_000) long leaseMillis,
                                                                @ForAll @LongRange(min = 0, max = 10_000) long perNodeMillis,
                                                                @ForAll @LongRange(min = 0, max = 86_400_000) long maxMillis,
                                                                @ForAll @IntRange(min = 0, max = 10_000_000) int nodes) {
        Duration lease = Duration.ofMillis(leaseMillis);
        Duration perNode = Duration.ofMillis(perNodeMillis);
        Duration max = Duration.ofMillis(maxMillis);
        Duration grace = Leases.startGrace(lease, nodes, perNode, max);
        assertThat(grace).isGreaterThanOrEqualTo(lease);
        assertThat(grace).isLessThanOrEqualTo(lease.compareTo(max) > 0 ? lease : max);
        assertThat(Leases.startGrace(lease, nodes + 1, perNode, max)).isGreaterThanOrEqualTo(grace);
    }

    @Example
    void fiveHundredNodesGetTheLeasePlusTheirAllowance() {
        assertThat(Leases.startGrace(Duration.ofSeconds(15), 500, Duration.ofMillis(20), Duration.ofMinutes(10))).isEqualTo(Duration.ofSeconds(25));
        assertThat(Leases.startGrace(Duration.ofSeconds(15), 1_000_000, Duration.ofMillis(20), Duration.ofMinutes(10))).isEqualTo(Duration.ofMinutes(10));
        assertThat(Leases.startGrace(Duration.ofSeconds(15), Integer.MAX_VALUE, Duration.ofDays(365_000), Duration.ofMinutes(10)))
                .isEqualTo(Duration.ofMinutes(10));
    }

    @Example
    void aNodeNotHeardSinceTheStartIsLostAtTheEndOfTheGraceWithItsSilenceCountedFromTheStart() {
        long start = Long.MAX_VALUE - SECOND; // the readings wrap around during the grace
        Leases.Snapshot s = new Leases.Snapshot(List.of("quiet", "talking"), Map.of("talking", new Leases.Heard(start + 24 * SECOND, WALL)),
                Set.of(), start, Duration.ofSeconds(25), Duration.ofSeconds(15), start + 25 * SECOND);
        assertThat(Leases.lost(s)).containsExactly(new Leases.Lost("quiet", Duration.ofSeconds(25), null));
    }

    private static Set<String> names(List<Leases.Lost> lost) {
        Set<String> out = new LinkedHashSet<>();
        lost.forEach(l -> out.add(l.node()));
        return out;
    }
}
