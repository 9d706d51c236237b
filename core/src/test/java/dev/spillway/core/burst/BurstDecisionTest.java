package dev.spillway.core.burst;

import static dev.spillway.core.burst.BurstFixtures.BROKER;
import static dev.spillway.core.burst.BurstFixtures.POOL;
import static dev.spillway.core.burst.BurstFixtures.T0;
import static dev.spillway.core.burst.BurstFixtures.busyOnPrem;
import static dev.spillway.core.burst.BurstFixtures.instance;
import static dev.spillway.core.burst.BurstFixtures.of;
import static dev.spillway.core.burst.BurstFixtures.offering;
import static dev.spillway.core.burst.BurstFixtures.pool;
import static dev.spillway.core.burst.BurstFixtures.smallAndLarge;
import static dev.spillway.core.burst.BurstFixtures.snapshot;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The rules of the burst decision, one scenario each (the ones seen when trying an AWS pool as a new user). */
class BurstDecisionTest {

    private final BurstDecision decision = new BurstDecision();
    private final Offering small = offering(POOL, "m6i.large", 2, 8, 0.115);

    @Test
    void anInstanceThatNeverJoinsIsFailedAndItsOfferingHiddenInsteadOfRelaunchedAtOnce() {
        Instant now = T0.plus(Duration.ofMinutes(6));
        InstanceView stuck = instance("i1", POOL, small, InstanceState.PROVISIONING, T0, false, 0, null);
        var r = decision.decide(snapshot(now, List.of(pool(4)), List.of(small), List.of(stuck),
                busyOnPrem("job-a", 2, T0), List.of()));

        assertThat(of(r, BurstAction.Terminate.class)).singleElement().satisfies(t -> {
            assertThat(t.instanceId()).isEqualTo("i1");
            assertThat(t.to()).isEqualTo(InstanceState.FAILED);
            assertThat(t.reason()).contains("never joined within 5 min");
        });
        assertThat(of(r, BurstAction.HideOffering.class)).singleElement().satisfies(h -> {
            assertThat(h.offeringId()).isEqualTo(small.id());
            assertThat(h.until()).isEqualTo(now.plus(Duration.ofMinutes(3)));
        });
        assertThat(of(r, BurstAction.Launch.class)).as("the only offering is hidden: no relaunch in the same tick").isEmpty();
        assertThat(r.waitingReasons().get("job-a")).contains("hidden after failures");
    }

    @Test
    void consecutiveJoinFailuresBackOffExponentiallyPerOffering() {
        CloudPoolSpec spec = pool(POOL, 0, 4, Double.POSITIVE_INFINITY);
        assertThat(Holds.joinBackoff(spec, 1)).isEqualTo(Duration.ofMinutes(3));
        assertThat(Holds.joinBackoff(spec, 2)).isEqualTo(Duration.ofMinutes(6));
        assertThat(Holds.joinBackoff(spec, 3)).isEqualTo(Duration.ofMinutes(12));
        assertThat(Holds.joinBackoff(spec, 10)).isEqualTo(Holds.MAX_HIDE);

        Offering large = offering(POOL, "m6i.2xlarge", 8, 32, 0.46);
        List<LaunchOutcome> history = List.of(
                new LaunchOutcome(POOL, small.id(), T0, LaunchOutcome.Kind.NEVER_JOINED, "never joined"),
                new LaunchOutcome(POOL, small.id(), T0.plusSeconds(60), LaunchOutcome.Kind.NEVER_JOINED, "never joined"));
        // 4 minutes after the second failure: a 3-minute hide would be over, the doubled 6-minute one is not.
        var r = decision.decide(snapshot(T0.plusSeconds(300), List.of(spec), List.of(small, large), List.of(),
                busyOnPrem("job-a", 1, T0), history));
        assertThat(of(r, BurstAction.Launch.class)).singleElement()
                .satisfies(l -> assertThat(l.offering().instanceType()).isEqualTo("m6i.2xlarge"));
    }

    @Test
    void afterThreeInstancesInARowNeverJoinThePoolRestsAndSaysWhereInstancesMustReach() {
        List<LaunchOutcome> history = List.of(
                new LaunchOutcome(POOL, small.id(), T0, LaunchOutcome.Kind.NEVER_JOINED, "x"),
                new LaunchOutcome(POOL, offering(POOL, "m6i.2xlarge", 8, 32, 0.46).id(), T0.plusSeconds(10), LaunchOutcome.Kind.NEVER_JOINED, "x"));
        Instant now = T0.plus(Duration.ofMinutes(6));
        InstanceView third = instance("i3", POOL, small, InstanceState.PROVISIONING, T0.plusSeconds(30), false, 0, null);
        var r = decision.decide(snapshot(now, List.of(pool(10)), smallAndLarge(POOL), List.of(third), busyOnPrem("job-a", 30, T0), history));

        assertThat(of(r, BurstAction.RestPool.class)).singleElement().satisfies(rest -> {
            assertThat(rest.pool()).isEqualTo(POOL);
            assertThat(rest.until()).isEqualTo(now.plus(Holds.JOIN_FAILURE_REST));
            assertThat(rest.reason()).isEqualTo("3 instances launched in the last 6 min never joined: check that instances can reach " + BROKER);
        });
        assertThat(of(r, BurstAction.Launch.class)).isEmpty();
        assertThat(r.waitingReasons().get("job-a")).contains("rests until").contains("never joined");
        assertThat(r.pools().get(POOL).status()).startsWith("resting until").contains(BROKER);

        // A join in between resets the count: the same failures with a success after the first do not rest the pool.
        List<LaunchOutcome> withSuccess = new ArrayList<>(history);
        withSuccess.add(1, new LaunchOutcome(POOL, small.id(), T0.plusSeconds(5), LaunchOutcome.Kind.JOINED, ""));
        var r2 = decision.decide(snapshot(now, List.of(pool(10)), smallAndLarge(POOL), List.of(third), busyOnPrem("job-a", 30, T0), withSuccess));
        assertThat(of(r2, BurstAction.RestPool.class)).isEmpty();
    }

    @Test
    void theHoldsComeFromTheHistoryAloneSoTheySurviveARestart() {
        var history = List.of(new LaunchOutcome(POOL, small.id(), T0, LaunchOutcome.Kind.SETUP_ERROR, "UnauthorizedOperation: ec2:RunInstances"));
        var r = decision.decide(snapshot(T0.plusSeconds(60), List.of(pool(4)), List.of(small), List.of(), busyOnPrem("job-a", 1, T0), history));
        assertThat(of(r, BurstAction.Launch.class)).isEmpty();
        assertThat(r.pools().get(POOL).restingUntil()).isEqualTo(T0.plus(Holds.SETUP_ERROR_REST));
        assertThat(r.waitingReasons().get("job-a")).contains("UnauthorizedOperation");

        var later = decision.decide(snapshot(T0.plus(Holds.SETUP_ERROR_REST), List.of(pool(4)), List.of(small), List.of(),
                busyOnPrem("job-a", 1, T0), history));
        assertThat(of(later, BurstAction.Launch.class)).hasSize(1);
    }

    @Test
    void aNodeLimitBuysTheMostCapacityItCanForTheWholeQueue() {
        // max-nodes 4; 6 tasks have waited past burst-after, 394 more queued just now and will follow.
        List<WaitingTask> waiting = new ArrayList<>(busyOnPrem("early", 6, T0));
        waiting.addAll(busyOnPrem("late", 394, T0.plusSeconds(29)));
        var r = decision.decide(snapshot(T0.plusSeconds(30), List.of(pool(4)), smallAndLarge(POOL), List.of(), waiting, List.of()));

        List<BurstAction.Launch> launches = of(r, BurstAction.Launch.class);
        assertThat(launches).isNotEmpty().allSatisfy(l -> {
            assertThat(l.offering().instanceType()).isEqualTo("m6i.2xlarge");
            assertThat(l.expectedTasks()).isEqualTo(8);
            assertThat(l.reason()).contains("expected to hold 8 waiting task(s)").contains("sized for the queue");
        });
        assertThat(launches.stream().mapToInt(l -> l.forTasks().size()).sum()).isEqualTo(6);

        // Without the queue behind them, the same 6 tasks get the cheapest cover.
        var alone = decision.decide(snapshot(T0.plusSeconds(30), List.of(pool(4)), smallAndLarge(POOL), List.of(),
                busyOnPrem("early", 6, T0), List.of()));
        assertThat(of(alone, BurstAction.Launch.class)).extracting(l -> l.offering().instanceType()).containsOnly("m6i.large");
    }

    @Test
    void whenTheLimitIsReachedTheWaitingReasonNamesItAndASmallInstanceIsReplaced() {
        List<InstanceView> full = new ArrayList<>();
        for (int i = 0; i < 4; i++) full.add(instance("i" + i, POOL, small, InstanceState.JOINED, T0, true, 2, null));
        var r = decision.decide(snapshot(T0.plusSeconds(120), List.of(pool(4)), smallAndLarge(POOL), full,
                busyOnPrem("job-a", 100, T0), List.of()));

        assertThat(of(r, BurstAction.Launch.class)).isEmpty();
        assertThat(r.waitingReasons().get("job-a")).isEqualTo("not bursting: max-nodes 4 reached in " + POOL);
        assertThat(of(r, BurstAction.Drain.class)).singleElement().satisfies(d -> {
            assertThat(d.instanceId()).isEqualTo("i0");
            assertThat(d.reason()).contains("larger instance").contains("m6i.2xlarge would hold 8 of them, this one 2");
        });
        assertThat(of(r, BurstAction.Terminate.class)).as("it has work: drained, not terminated").isEmpty();
    }

    @Test
    void theSpendCapIsNamedWhenItBinds() {
        CloudPoolSpec capped = pool(POOL, 0, 10, 0.2);
        List<InstanceView> one = List.of(instance("i0", POOL, small, InstanceState.JOINED, T0, true, 2, null));
        var r = decision.decide(snapshot(T0.plusSeconds(60), List.of(capped), smallAndLarge(POOL), one, busyOnPrem("job-a", 5, T0), List.of()));
        assertThat(of(r, BurstAction.Launch.class)).isEmpty();
        assertThat(r.waitingReasons().get("job-a")).contains("spend cap 0.2000 USD/h reached in " + POOL);
    }

    @Test
    void instancesOnTheirWayHoldTheirTasksAndStayVisibleUntilTheyJoin() {
        InstanceView coming = instance("i1", POOL, smallAndLarge(POOL).get(1), InstanceState.PROVISIONING, T0.plusSeconds(40), false, 0, null);
        var r = decision.decide(snapshot(T0.plusSeconds(90), List.of(pool(4)), smallAndLarge(POOL), List.of(coming),
                busyOnPrem("job-x", 8, T0), List.of()));
        assertThat(of(r, BurstAction.Launch.class)).as("never launches what is already on its way").isEmpty();
        assertThat(of(r, BurstAction.Terminate.class)).isEmpty();
        assertThat(r.waitingReasons().get("job-x")).startsWith("bursting: " + POOL + "-i1 is on its way");
    }

    @Test
    void aCancelledJobsInstanceStillOnItsWayIsTerminatedWhenNothingElseNeedsIt() {
        InstanceView coming = instance("i1", POOL, small, InstanceState.PROVISIONING, T0, false, 0, null);
        var r = decision.decide(snapshot(T0.plusSeconds(20), List.of(pool(4)), List.of(small), List.of(coming), List.of(), List.of()));
        assertThat(of(r, BurstAction.Terminate.class)).singleElement().satisfies(t -> {
            assertThat(t.instanceId()).isEqualTo("i1");
            assertThat(t.to()).isEqualTo(InstanceState.TERMINATED);
            assertThat(t.reason()).isEqualTo("no waiting task needs it any more");
        });
    }

    @Test
    void anInstanceOnItsWayIsKeptWhileItsJobStillWaitsEvenIfAnotherCouldHoldTheTasks() {
        Offering large = smallAndLarge(POOL).get(1);
        InstanceView big = instance("big", POOL, large, InstanceState.PROVISIONING, T0, false, 0, null);
        InstanceView spare = instance("spare", POOL, small, InstanceState.PROVISIONING, T0.plusSeconds(1), false, 0, null);
        // On-prem took most of job-x meanwhile: its last 2 tasks fit in the big instance alone.
        var r = decision.decide(snapshot(T0.plusSeconds(20), List.of(pool(4)), smallAndLarge(POOL), List.of(big, spare),
                busyOnPrem("job-x", 2, T0), List.of()));
        assertThat(of(r, BurstAction.Terminate.class)).as("no churn while job-x waits").isEmpty();
        assertThat(of(r, BurstAction.Launch.class)).isEmpty();
    }

    @Test
    void aJoinedAgentMarksTheInstanceJoinedAndItIsNotTakenForUnneeded() {
        InstanceView up = instance("i1", POOL, small, InstanceState.PROVISIONING, T0, true, 0, null);
        var r = decision.decide(snapshot(T0.plusSeconds(20), List.of(pool(4)), List.of(small), List.of(up), List.of(), List.of()));
        assertThat(r.actions()).containsExactly(new BurstAction.MarkJoined("i1"));
    }

    @Test
    void idleInstancesDrainDownToMinNodesAndAreTerminatedOnceEmpty() {
        CloudPoolSpec keepOne = pool(POOL, 1, 4, Double.POSITIVE_INFINITY);
        List<InstanceView> idle = List.of(
                instance("a", POOL, small, InstanceState.JOINED, T0, true, 0, T0),
                instance("b", POOL, small, InstanceState.JOINED, T0, true, 0, T0),
                instance("c", POOL, small, InstanceState.DRAINING, T0, true, 0, T0),
                instance("d", POOL, small, InstanceState.DRAINING, T0, true, 1, null));
        var r = decision.decide(snapshot(T0.plusSeconds(61), List.of(keepOne), List.of(small), idle, List.of(), List.of()));
        assertThat(of(r, BurstAction.Drain.class)).extracting(BurstAction.Drain::instanceId).containsExactly("a");
        assertThat(of(r, BurstAction.Terminate.class)).extracting(BurstAction.Terminate::instanceId).containsExactly("c");
    }

    @Test
    void tasksThatMayNotYetBurstSaySo() {
        var r = decision.decide(snapshot(T0.plusSeconds(10), List.of(pool(4)), List.of(small), List.of(), busyOnPrem("job-a", 1, T0), List.of()));
        assertThat(r.actions()).isEmpty();
        assertThat(r.waitingReasons().get("job-a")).isEqualTo("may burst after waiting 30 s (waited 10 s)");
    }

    @Test
    void tasksOnlyAllowedOnPremAreNotBurstAndTasksOnlyAllowedInOnePoolGoThere() {
        CloudPoolSpec other = pool("azwe", 0, 4, Double.POSITIVE_INFINITY);
        Offering cheapElsewhere = offering("azwe", "D2s", 2, 8, 0.01);
        WaitingTask onPremOnly = new WaitingTask(new Demand(new dev.spillway.core.scheduling.TaskRef("onprem", 0, 0),
                new dev.spillway.core.scheduling.Resources(1000, 1024, 0), Set.of(), false, Set.of("onprem")), T0, false);
        WaitingTask awsOnly = new WaitingTask(new Demand(new dev.spillway.core.scheduling.TaskRef("aws", 0, 0),
                new dev.spillway.core.scheduling.Resources(1000, 1024, 0), Set.of(), false, Set.of("onprem", POOL)), T0, false);
        var r = decision.decide(snapshot(T0, List.of(pool(4), other), List.of(small, cheapElsewhere), List.of(),
                List.of(onPremOnly, awsOnly), List.of()));
        assertThat(of(r, BurstAction.Launch.class)).singleElement().satisfies(l -> {
            assertThat(l.offering().pool()).isEqualTo(POOL);
            assertThat(l.forTasks()).extracting(dev.spillway.core.scheduling.TaskRef::jobId).containsExactly("aws");
        });
        assertThat(r.waitingReasons()).doesNotContainKey("onprem");
    }

    @Test
    void offeringsAPolicyRefusesAreNeverBoughtAndWhenAllAreTheReasonNamesTheRule() {
        Offering large = offering(POOL, "m6i.2xlarge", 8, 32, 0.46);
        Offering cheapSmall = offering(POOL, "m6i.large", 2, 8, 0.115);
        // The policy allows only the large offering for job-a (e.g. a family or price rule): the planner buys it, though dearer.
        Map<String, String> onlyLarge = Map.of(cheapSmall.id(), "finops/no-small: instance type m6i.large not among [m6i.2xlarge]");
        WaitingTask a = new WaitingTask(new Demand(new TaskRef("job-a", 0, 0), new Resources(1000, 1024, 0), Set.of(), false, Set.of(), onlyLarge),
                T0, false);
        var r = decision.decide(snapshot(T0, List.of(pool(4)), List.of(cheapSmall, large), List.of(), List.of(a), List.of()));
        assertThat(of(r, BurstAction.Launch.class)).singleElement().satisfies(l -> assertThat(l.offering()).isEqualTo(large));

        // Refused everything: nothing is launched, and the job's reason quotes the rule that refused the cheapest fitting offering.
        Map<String, String> none = Map.of(cheapSmall.id(), "finops/sandbox: tenant sandbox may not burst",
                large.id(), "finops/sandbox: tenant sandbox may not burst");
        WaitingTask b = new WaitingTask(new Demand(new TaskRef("job-b", 0, 0), new Resources(1000, 1024, 0), Set.of(), false, Set.of(), none),
                T0, false);
        var r2 = decision.decide(snapshot(T0, List.of(pool(4)), List.of(cheapSmall, large), List.of(), List.of(b), List.of()));
        assertThat(of(r2, BurstAction.Launch.class)).isEmpty();
        assertThat(r2.waitingReasons().get("job-b")).contains("the policies refuse every cloud offering that fits")
                .contains(cheapSmall.id()).contains("finops/sandbox: tenant sandbox may not burst");

        // An instance on its way of a refused offering does not take the task either.
        InstanceView coming = instance("i1", POOL, cheapSmall, InstanceState.PROVISIONING, T0, false, 0, null);
        var r3 = decision.decide(snapshot(T0, List.of(pool(4)), List.of(cheapSmall, large), List.of(coming), List.of(a), List.of()));
        assertThat(of(r3, BurstAction.Launch.class)).singleElement().satisfies(l -> assertThat(l.offering()).isEqualTo(large));
    }

    @Test
    void aPolicysBurstAfterReplacesThePoolsOwn() {
        // The pool waits 30 s (pool(...) fixture); a policy makes this job wait 10 minutes.
        WaitingTask patient = new WaitingTask(new Demand(new TaskRef("job-a", 0, 0), new Resources(1000, 1024, 0), Set.of(), false), T0, true,
                Duration.ofMinutes(10));
        var early = decision.decide(snapshot(T0.plusSeconds(60), List.of(pool(4)), smallAndLarge(POOL), List.of(), List.of(patient), List.of()));
        assertThat(of(early, BurstAction.Launch.class)).isEmpty();
        assertThat(early.waitingReasons().get("job-a")).contains("may burst after waiting 10 min");
        var late = decision.decide(snapshot(T0.plus(Duration.ofMinutes(10)), List.of(pool(4)), smallAndLarge(POOL), List.of(), List.of(patient),
                List.of()));
        assertThat(of(late, BurstAction.Launch.class)).hasSize(1);
        // And a shorter one lets it go before the pool's.
        WaitingTask eager = new WaitingTask(patient.demand(), T0, true, Duration.ZERO);
        assertThat(of(decision.decide(snapshot(T0, List.of(pool(4)), smallAndLarge(POOL), List.of(), List.of(eager), List.of())),
                BurstAction.Launch.class)).hasSize(1);
    }
}
