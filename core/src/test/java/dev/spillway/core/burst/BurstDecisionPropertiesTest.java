package dev.spillway.core.burst;

import static dev.spillway.core.burst.BurstFixtures.BROKER;
import static dev.spillway.core.burst.BurstFixtures.T0;
import static dev.spillway.core.burst.BurstFixtures.of;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Invariants of the burst decision over random snapshots of two pools. */
class BurstDecisionPropertiesTest {

    private final BurstDecision decision = new BurstDecision();

    @Property(tries = 300)
    void neverAboveAPoolsMaxNodesOrSpendCap(@ForAll("snapshots") BurstSnapshot s) {
        var r = decision.decide(s);
        Set<String> gone = terminated(r);
        for (CloudPoolSpec p : s.pools()) {
            var live = s.instances().stream().filter(i -> i.pool().equals(p.name()) && !gone.contains(i.id())).toList();
            var launches = of(r, BurstAction.Launch.class).stream().filter(l -> l.offering().pool().equals(p.name())).toList();
            if (!launches.isEmpty()) {
                assertThat(live.size() + launches.size()).isLessThanOrEqualTo(p.maxNodes());
                double spend = live.stream().mapToDouble(InstanceView::priceUsdPerHour).sum()
                        + launches.stream().mapToDouble(l -> l.offering().priceUsdPerHour()).sum();
                assertThat(spend).isLessThanOrEqualTo(p.maxSpendUsdPerHour() + 1e-9);
            }
        }
    }

    @Property(tries = 300)
    void neverDrainsBelowMinNodes(@ForAll("snapshots") BurstSnapshot s) {
        var r = decision.decide(s);
        Set<String> leaving = new HashSet<>(terminated(r));
        of(r, BurstAction.Drain.class).forEach(d -> leaving.add(d.instanceId()));
        Set<String> joinedNow = new HashSet<>();
        of(r, BurstAction.MarkJoined.class).forEach(j -> joinedNow.add(j.instanceId()));
        for (CloudPoolSpec p : s.pools()) {
            var joined = s.instances().stream().filter(i -> i.pool().equals(p.name())
                    && (i.state() == InstanceState.JOINED || joinedNow.contains(i.id()))).toList();
            long left = joined.stream().filter(i -> !leaving.contains(i.id())).count();
            assertThat(left).isGreaterThanOrEqualTo(Math.min(joined.size(), p.minNodes()));
        }
    }

    @Property(tries = 300)
    void neverTerminatesANodeThatHoldsWork(@ForAll("snapshots") BurstSnapshot s) {
        var r = decision.decide(s);
        Map<String, InstanceView> byId = new HashMap<>();
        s.instances().forEach(i -> byId.put(i.id(), i));
        for (BurstAction.Terminate t : of(r, BurstAction.Terminate.class)) {
            assertThat(byId).containsKey(t.instanceId());
            assertThat(byId.get(t.instanceId()).tasksOnNode()).as("terminated %s with work", t.instanceId()).isZero();
        }
    }

    @Property(tries = 300)
    void everyInstanceGetsAtMostOneLifecycleAction(@ForAll("snapshots") BurstSnapshot s) {
        var r = decision.decide(s);
        List<String> touched = new ArrayList<>();
        for (BurstAction a : r.actions()) {
            if (a instanceof BurstAction.Terminate t) touched.add(t.instanceId());
            if (a instanceof BurstAction.Drain d) touched.add(d.instanceId());
            if (a instanceof BurstAction.MarkJoined j) touched.add(j.instanceId());
        }
        assertThat(touched).doesNotHaveDuplicates();
    }

    @Property(tries = 300)
    void neverLaunchesWhatIsAlreadyOnItsWay(@ForAll("snapshots") BurstSnapshot s) {
        // Give every waiting task its own roomy instance on its way: nothing may be launched.
        List<InstanceView> coming = new ArrayList<>();
        int n = 0;
        for (WaitingTask w : s.waiting()) {
            CloudPoolSpec p = s.pools().get(n % s.pools().size());
            coming.add(new InstanceView("coming-" + n, p.name(), "n" + n, "x", new Resources(64_000, 512 * 1024, 8), true, 0.5,
                    InstanceState.PROVISIONING, s.now(), s.now(), false, 0, null, Set.of(w.demand().task().jobId()), 1, "coming"));
            n++;
        }
        var unrestricted = new ArrayList<WaitingTask>();
        for (WaitingTask w : s.waiting()) {
            Demand d = w.demand();
            unrestricted.add(new WaitingTask(new Demand(d.task(), d.request(), Set.of(), true, Set.of()), w.queuedAt(), w.waitingCanHelp()));
        }
        var roomy = new BurstSnapshot(s.now(), s.pools(), s.offerings(), coming, unrestricted, s.history(), Map.of(), BROKER);
        assertThat(of(decision.decide(roomy), BurstAction.Launch.class)).isEmpty();
    }

    @Property(tries = 200)
    void launchesOnlyForTasksThatMayBurstNowAndWithinTheirRules(@ForAll("snapshots") BurstSnapshot s) {
        var r = decision.decide(s);
        Map<TaskRef, WaitingTask> byRef = new HashMap<>();
        s.waiting().forEach(w -> byRef.put(w.demand().task(), w));
        Map<String, CloudPoolSpec> specs = new HashMap<>();
        s.pools().forEach(p -> specs.put(p.name(), p));
        for (BurstAction.Launch l : of(r, BurstAction.Launch.class)) {
            assertThat(l.forTasks()).isNotEmpty();
            for (TaskRef t : l.forTasks()) {
                WaitingTask w = byRef.get(t);
                assertThat(w.demand().mayUse(l.offering())).isTrue();
                boolean eligible = !w.waitingCanHelp() || !s.now().isBefore(w.queuedAt().plus(specs.get(l.offering().pool()).burstAfter()));
                assertThat(eligible).as("%s launched for before its burst-after", t).isTrue();
            }
        }
    }

    @Property(tries = 100)
    void deterministic(@ForAll("snapshots") BurstSnapshot s) {
        assertThat(decision.decide(s)).isEqualTo(decision.decide(s));
    }

    private static Set<String> terminated(BurstDecision.Result r) {
        Set<String> out = new HashSet<>();
        of(r, BurstAction.Terminate.class).forEach(t -> out.add(t.instanceId()));
        return out;
    }

    // ---- generators ---------------------------------------------------------------------------

    @Provide
    Arbitrary<BurstSnapshot> snapshots() {
        Arbitrary<CloudPoolSpec> pools = Combinators.combine(
                        Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, 6),
                        Arbitraries.of(Double.POSITIVE_INFINITY, 0.3, 1.0, 3.0), Arbitraries.integers().between(0, 60))
                .as((min, extra, cap, burstAfter) -> new CloudPoolSpec("p", "EU", min, min + extra, cap, Set.of(),
                        Duration.ofSeconds(burstAfter), Duration.ofSeconds(60), Duration.ofMinutes(5), Duration.ofMinutes(3), 3));
        return Combinators.combine(pools, pools, instances(), waiting(), history(), Arbitraries.integers().between(0, 900))
                .as((a, b, instances, waiting, history, seconds) -> {
                    CloudPoolSpec pa = rename(a, "aws");
                    CloudPoolSpec pb = rename(b, "azure");
                    List<Offering> offerings = new ArrayList<>();
                    for (String pool : List.of("aws", "azure")) {
                        offerings.add(BurstFixtures.offering(pool, "s2", 2, 8, 0.1));
                        offerings.add(BurstFixtures.offering(pool, "m8", 8, 32, 0.4));
                        offerings.add(new Offering(Offering.id(pool, "z", "s2", true), pool, "r", "z", "EU", "s2",
                                new Resources(2000, 8192, 0), true, 0.03));
                    }
                    return new BurstSnapshot(T0.plusSeconds(seconds), List.of(pa, pb), offerings, instances, waiting, history, Map.of(), BROKER);
                });
    }

    private static CloudPoolSpec rename(CloudPoolSpec p, String name) {
        return new CloudPoolSpec(name, p.jurisdiction(), p.minNodes(), p.maxNodes(), p.maxSpendUsdPerHour(), p.instanceTypes(), p.burstAfter(),
                p.scaleDownAfter(), p.joinTimeout(), p.capacityErrorBackoff(), p.joinFailureLimit());
    }

    private Arbitrary<List<InstanceView>> instances() {
        Arbitrary<InstanceView> one = Combinators.combine(
                        Arbitraries.of("aws", "azure"), Arbitraries.of(InstanceState.REQUESTED, InstanceState.PROVISIONING, InstanceState.JOINED,
                                InstanceState.DRAINING), Arbitraries.of(2, 8), Arbitraries.integers().between(0, 600),
                        Arbitraries.of(true, false), Arbitraries.integers().between(0, 3), Arbitraries.integers().between(-1, 600))
                .as((pool, state, cpus, launchedAgo, connected, tasks, idleAgo) -> {
                    Offering o = BurstFixtures.offering(pool, cpus == 2 ? "s2" : "m8", cpus, cpus * 4, cpus == 2 ? 0.1 : 0.4);
                    Instant launched = state == InstanceState.REQUESTED ? null : T0.minusSeconds(launchedAgo);
                    boolean agent = state == InstanceState.JOINED || state == InstanceState.DRAINING ? connected || tasks > 0 : connected;
                    int held = state == InstanceState.REQUESTED || (state == InstanceState.PROVISIONING && !agent) ? 0 : tasks;
                    Instant idle = held == 0 && idleAgo >= 0 && agent ? T0.minusSeconds(idleAgo) : null;
                    return new InstanceView("?", pool, "?", o.id(), o.shape(), false, o.priceUsdPerHour(), state,
                            T0.minusSeconds(launchedAgo + 1), launched, agent, held, idle, Set.of("j0"), 1, "test");
                });
        return one.list().ofMaxSize(8).map(list -> {
            List<InstanceView> out = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                InstanceView v = list.get(i);
                out.add(new InstanceView("i" + i, v.pool(), v.pool() + "-" + i, v.offeringId(), v.shape(), v.spot(), v.priceUsdPerHour(),
                        v.state(), v.requestedAt(), v.launchedAt(), v.agentConnected(), v.tasksOnNode(), v.idleSince(), v.forJobs(),
                        v.expectedTasks(), v.decision()));
            }
            return out;
        });
    }

    private Arbitrary<List<WaitingTask>> waiting() {
        Arbitrary<WaitingTask> one = Combinators.combine(
                        Arbitraries.integers().between(0, 5), Arbitraries.of(500, 1000, 2000, 4000, 16000), Arbitraries.of(512, 2048, 16384),
                        Arbitraries.of(Set.<String>of(), Set.of("EU"), Set.of("US")), Arbitraries.of(true, false),
                        Arbitraries.of(Set.<String>of(), Set.of("aws"), Set.of("onprem")), Arbitraries.integers().between(0, 300),
                        Arbitraries.of(true, false))
                .as((job, cpu, mem, where, spot, pools, queuedAgo, canWait) -> new WaitingTask(
                        new Demand(new TaskRef("j" + job, 0, 0), new Resources(cpu, mem, 0), where, spot, pools), T0.minusSeconds(queuedAgo),
                        canWait));
        return one.list().ofMaxSize(40).map(list -> {
            List<WaitingTask> out = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                Demand d = list.get(i).demand();
                out.add(new WaitingTask(new Demand(new TaskRef(d.task().jobId(), i, 0), d.request(), d.jurisdictions(), d.spotTolerant(),
                        d.pools()), list.get(i).queuedAt(), list.get(i).waitingCanHelp()));
            }
            return out;
        });
    }

    private Arbitrary<List<LaunchOutcome>> history() {
        return Combinators.combine(Arbitraries.of("aws", "azure"), Arbitraries.of("s2", "m8"), Arbitraries.integers().between(0, 3600),
                        Arbitraries.of(LaunchOutcome.Kind.values()))
                .as((pool, type, ago, kind) -> new LaunchOutcome(pool, Offering.id(pool, "eu-central-1a", type, false), T0.minusSeconds(ago), kind, "x"))
                .list().ofMaxSize(6);
    }
}
