package dev.spillway.bench.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.spillway.core.burst.BurstAction;
import dev.spillway.core.burst.BurstDecision;
import dev.spillway.core.burst.BurstSnapshot;
import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.burst.InstanceView;
import dev.spillway.core.lifecycle.ReasonCode;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.sim.Simulation;
import dev.spillway.core.sim.SwfTrace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulationTest {

    private static final Function<BurstSnapshot, BurstDecision.Result> NEVER_ASKED = s -> {
        throw new AssertionError("the burst decision must not run without cloud pools");
    };

    /** SWF lines: {submit, run, processors} per job, numbered from 1. */
    static String swf(long[]... jobs) {
        StringBuilder sb = new StringBuilder("; MaxProcs: 2\n");
        for (int i = 0; i < jobs.length; i++) {
            sb.append(String.format("%d %d -1 %d %d -1 -1 -1 -1 -1 1 1 1 -1 -1 -1 -1 -1%n", i + 1, jobs[i][0], jobs[i][1], jobs[i][2]));
        }
        return sb.toString();
    }

    static List<SwfTrace.TraceJob> jobs(String swf) throws Exception {
        SwfTrace.Trace trace = SwfTrace.parse(swf);
        assertThat(trace.problems()).isEmpty();
        return trace.jobs();
    }

    /**
     * Two one-cpu nodes. Job 1 (t=0, 1 task, 100 s) takes node A until 100. Job 2 (t=10, 2 tasks of
     * 50 s): one on node B until 60, the other waits for B: 60-110. Job 3 (t=20, 1 task of 30 s)
     * queued after job 2, gets A at 100: 100-130. Waits 0, 0, 50, 80: mean 32.5, max (and p95 of
     * four) 80; makespan 130 - 0.
     */
    @Test
    void waitsAndMakespanOfAHandMadeTraceAreTheOnesComputedByHand() throws Exception {
        Simulation sim = new Simulation(Simulation.Settings.defaults(2), List.of(), Scheduler.standard(), NEVER_ASKED);

        Simulation.Result r = sim.run(jobs(swf(new long[] {0, 100, 1}, new long[] {10, 50, 2}, new long[] {20, 30, 1})), line -> {});

        assertThat(r.jobs()).isEqualTo(3);
        assertThat(r.tasks()).isEqualTo(4);
        assertThat(r.meanWaitSeconds()).isEqualTo(32.5);
        assertThat(r.maxWaitSeconds()).isEqualTo(80.0);
        assertThat(r.p95WaitSeconds()).isEqualTo(80.0);
        assertThat(r.makespanSeconds()).isEqualTo(130.0);
        assertThat(r.cloudCostUsd()).isZero();
        assertThat(r.instances()).isZero();
        assertThat(r.tasksByPool()).isEqualTo(Map.of(Simulation.ON_PREM_POOL, 4L));
    }

    @Test
    void speedupDividesTheSubmitTimesOnly() throws Exception {
        Simulation.Settings twice = new Simulation.Settings(2, 1, 4096, 1024, false, 2.0, Duration.ofSeconds(5), 2000, 1, Duration.ofDays(1));
        Simulation sim = new Simulation(twice, List.of(), Scheduler.standard(), NEVER_ASKED);

        // Submits at 0, 5, 10 s; A busy 0-100, B 5-55 then 55-105, job 3 on A 100-130.
        Simulation.Result r = sim.run(jobs(swf(new long[] {0, 100, 1}, new long[] {10, 50, 2}, new long[] {20, 30, 1})), line -> {});

        assertThat(r.maxWaitSeconds()).isEqualTo(90.0);
        assertThat(r.meanWaitSeconds()).isEqualTo((0 + 0 + 50 + 90) / 4.0);
        assertThat(r.makespanSeconds()).isEqualTo(130.0);
    }

    @Test
    void tasksOfZeroRunTimeStillCountAndWaitLikeOthers() throws Exception {
        Simulation sim = new Simulation(Simulation.Settings.defaults(1), List.of(), Scheduler.standard(), NEVER_ASKED);

        Simulation.Result r = sim.run(jobs(swf(new long[] {0, 10, 1}, new long[] {5, 0, 1}, new long[] {6, 0, 1})), line -> {});

        assertThat(r.tasks()).isEqualTo(3);
        assertThat(r.maxWaitSeconds()).isEqualTo(5.0); // 6 -> 10 (5 -> 10 is 5 too)
        assertThat(r.makespanSeconds()).isEqualTo(10.0);
    }

    /** 4 on-prem cpus, 30 jobs of 4 tasks x 10 min, one every minute: the queue grows by 3 cpus' worth a minute. */
    static String overloaded() {
        List<long[]> jobs = new ArrayList<>();
        for (int i = 0; i < 30; i++) jobs.add(new long[] {60L * i, 600, 4});
        return swf(jobs.toArray(long[][]::new));
    }

    static Simulation bursting(long seed) {
        return new Simulation(Simulation.Settings.defaults(4).withSeed(seed), List.of(SimulatedPool.defaultPool().toCloudPool()), Scheduler.standard(),
                new BurstDecision()::decide);
    }

    @Test
    void theSameTraceAndSeedGiveTheSameResult() throws Exception {
        List<SwfTrace.TraceJob> jobs = jobs(overloaded());
        List<String> first = new ArrayList<>();
        List<String> second = new ArrayList<>();

        Simulation.Result a = bursting(7).run(jobs, first::add);
        Simulation.Result b = bursting(7).run(jobs, second::add);

        assertThat(b).isEqualTo(a);
        assertThat(second).isEqualTo(first);
        assertThat(a.instances()).as("the comparison covers the burst path").isPositive();
    }

    @Test
    void burstingCutsTheWaitOfAnOverloadedTraceAtACost() throws Exception {
        List<SwfTrace.TraceJob> jobs = jobs(overloaded());

        Simulation.Result onPremOnly = new Simulation(Simulation.Settings.defaults(4), List.of(), Scheduler.standard(), NEVER_ASKED)
                .run(jobs, line -> {});
        Simulation.Result burst = bursting(1).run(jobs, line -> {});

        assertThat(burst.p95WaitSeconds()).isLessThan(onPremOnly.p95WaitSeconds() / 2);
        assertThat(burst.meanWaitSeconds()).isLessThan(onPremOnly.meanWaitSeconds());
        assertThat(burst.cloudCostUsd()).isPositive();
        assertThat(burst.instances()).isPositive();
        assertThat(burst.instancesLeftLive()).as("idle instances are scaled down before the end").isZero();
        assertThat(burst.tasksByPool().get("aws-eu")).isPositive();
        assertThat(burst.tasksByPool().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(120);
        // Every task waited at least until its cloud node could have booted, or found on-prem room.
        assertThat(burst.makespanSeconds()).isLessThan(onPremOnly.makespanSeconds());
    }

    @Test
    void anInstanceCostsItsLifetimeTimesItsPrice() throws Exception {
        // A decision that launches one instance of the cheapest on-demand offering at the first tick with
        // waiting tasks, joins it once connected, drains it once idle and terminates it once drained.
        SimulatedPool pool = SimulatedPool.defaultPool();
        var cheapest = pool.offerings().stream().filter(o -> !o.spot())
                .min(java.util.Comparator.comparingDouble(dev.spillway.core.burst.Offering::priceUsdPerHour)).orElseThrow();
        boolean[] launched = {false};
        List<double[]> lifetimes = new ArrayList<>();
        Function<BurstSnapshot, BurstDecision.Result> decide = s -> {
            List<BurstAction> actions = new ArrayList<>();
            if (!launched[0] && !s.waiting().isEmpty()) {
                launched[0] = true;
                actions.add(new BurstAction.Launch(cheapest, List.of(s.waiting().get(0).demand().task()), 1, "test"));
            }
            for (InstanceView i : s.instances()) {
                if (i.state() == InstanceState.PROVISIONING && i.agentConnected()) actions.add(new BurstAction.MarkJoined(i.id()));
                if (i.state() == InstanceState.JOINED && i.idleSince() != null) actions.add(new BurstAction.Drain(i.id(), ReasonCode.IDLE, "idle"));
                if (i.state() == InstanceState.DRAINING && i.tasksOnNode() == 0) {
                    actions.add(new BurstAction.Terminate(i.id(), InstanceState.TERMINATED, ReasonCode.DRAINED, "drained"));
                    lifetimes.add(new double[] {i.launchedAt().toEpochMilli(), s.now().toEpochMilli()});
                }
            }
            return new BurstDecision.Result(actions, Map.of(), Map.of());
        };
        Simulation sim = new Simulation(Simulation.Settings.defaults(1), List.of(pool.toCloudPool()), Scheduler.standard(), decide);

        // One on-prem cpu busy for an hour; a second task waits for the instance.
        Simulation.Result r = sim.run(jobs(swf(new long[] {0, 3600, 1}, new long[] {0, 3600, 1})), line -> {});

        assertThat(r.instances()).isEqualTo(1);
        assertThat(lifetimes).hasSize(1);
        double hours = (lifetimes.get(0)[1] - lifetimes.get(0)[0]) / 3_600_000;
        assertThat(r.cloudCostUsd()).isCloseTo(hours * cheapest.priceUsdPerHour(), within(1e-9));
        assertThat(r.tasksByPool()).isEqualTo(Map.of("aws-eu", 1L, Simulation.ON_PREM_POOL, 1L));
        // Launched at the first tick (5 s), joined after 60-90 s: the second task waited that long.
        assertThat(r.maxWaitSeconds()).isBetween(65.0, 95.0);
    }

    @Test
    void aDecisionThatTerminatesANodeHoldingWorkFailsTheRun() throws Exception {
        SimulatedPool pool = SimulatedPool.defaultPool();
        var offering = pool.offerings().get(0);
        Function<BurstSnapshot, BurstDecision.Result> rogue = s -> {
            List<BurstAction> actions = new ArrayList<>();
            if (s.instances().isEmpty() && !s.waiting().isEmpty()) {
                actions.add(new BurstAction.Launch(offering, List.of(s.waiting().get(0).demand().task()), 1, "test"));
            }
            for (InstanceView i : s.instances()) {
                if (i.tasksOnNode() > 0) actions.add(new BurstAction.Terminate(i.id(), InstanceState.TERMINATED, ReasonCode.NOT_NEEDED, "rogue"));
            }
            return new BurstDecision.Result(actions, Map.of(), Map.of());
        };
        Simulation sim = new Simulation(Simulation.Settings.defaults(1), List.of(pool.toCloudPool()), Scheduler.standard(), rogue);

        assertThatThrownBy(() -> sim.run(jobs(swf(new long[] {0, 3600, 1}, new long[] {0, 3600, 1})), line -> {}))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("terminated i-000001 (rogue) while its node aws-eu-000001 holds 1 task(s)");
    }

    @Test
    void aDecisionThatJoinsAnInstanceBeforeItsAgentConnectedFailsTheRun() throws Exception {
        SimulatedPool pool = SimulatedPool.defaultPool();
        var offering = pool.offerings().get(0);
        Function<BurstSnapshot, BurstDecision.Result> hasty = s -> s.instances().isEmpty() && !s.waiting().isEmpty()
                ? new BurstDecision.Result(List.of(new BurstAction.Launch(offering, List.of(), 1, "test")), Map.of(), Map.of())
                : new BurstDecision.Result(s.instances().stream().map(i -> (BurstAction) new BurstAction.MarkJoined(i.id())).toList(), Map.of(), Map.of());
        Simulation sim = new Simulation(Simulation.Settings.defaults(1), List.of(pool.toCloudPool()), Scheduler.standard(), hasty);

        assertThatThrownBy(() -> sim.run(jobs(swf(new long[] {0, 3600, 1}, new long[] {0, 3600, 1})), line -> {}))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("MarkJoined for i-000001, whose agent has not connected");
    }

    @Test
    void theCommandPrintsProgressThenOneResultLineAndReportsSkippedLines(@TempDir Path dir) throws Exception {
        Path trace = dir.resolve("t.swf");
        Files.writeString(trace, swf(new long[] {0, 100, 1}, new long[] {10, 50, 2}, new long[] {20, 30, 1}) + "4 oops\n");
        var out = new java.io.StringWriter();
        var err = new java.io.StringWriter();
        var cli = dev.spillway.bench.SpillwayBench.commandLine();
        cli.setOut(new java.io.PrintWriter(out));
        cli.setErr(new java.io.PrintWriter(err));

        int code = cli.execute("simulate", "--trace", trace.toString(), "--onprem-cpus", "2");

        assertThat(code).isZero();
        List<String> lines = out.toString().lines().toList();
        assertThat(lines.get(lines.size() - 1)).matches(
                "RESULT simulate jobs=3 tasks=4 mean_wait_s=32\\.5 p95_wait_s=80\\.0 max_wait_s=80\\.0 makespan_s=130\\.0 cloud_cost_usd=0\\.0000 instances=0 wall_s=\\d+\\.\\d");
        assertThat(err.toString()).contains(trace + ":5: expected 18 fields, found 2 (line skipped)", "skipped 1 invalid line(s)");

        var json = new java.io.StringWriter();
        cli.setOut(new java.io.PrintWriter(json));
        assertThat(cli.execute("simulate", "--trace", trace.toString(), "--onprem-cpus", "2", "-o", "json")).isZero();
        assertThat(json.toString()).contains("\"tasks\": 4", "\"meanWaitSeconds\": 32.500", "\"tasksByPool\": {\"onprem\": 4}",
                "\"skippedLines\": 1").startsWith("{");
    }
}
