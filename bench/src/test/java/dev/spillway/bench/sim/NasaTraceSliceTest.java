package dev.spillway.bench.sim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.burst.BurstDecision;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.sim.Simulation;
import dev.spillway.core.sim.SwfTrace;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The first 500 jobs of the NASA Ames iPSC/860 log, cut at run time from the shared traces folder
 * beside the repository ({@code ../shared/traces/}, or {@code $SPILLWAY_TRACES}); skipped where it
 * is absent. The trace is never copied into the repository.
 */
class NasaTraceSliceTest {

    static final String FILE = "NASA-iPSC-1993-3.1-cln.swf";
    static final int JOBS = 500;
    static List<SwfTrace.TraceJob> jobs;
    static String absent;

    static Path tracesDir() {
        String env = System.getenv("SPILLWAY_TRACES");
        if (env != null) return Path.of(env);
        // Tests run in bench/; the shared folder sits beside the repository.
        return Path.of("").toAbsolutePath().getParent().resolveSibling("shared").resolve("traces");
    }

    @BeforeEach
    void needsTheTrace() {
        Assumptions.assumeTrue(absent == null, absent);
    }

    @BeforeAll
    static void cutTheSlice() throws Exception {
        Path file = tracesDir().resolve(FILE);
        if (!Files.isReadable(file)) {
            absent = "skipped: the NASA trace is not at " + file + " (set SPILLWAY_TRACES to its folder)";
            System.err.println(NasaTraceSliceTest.class.getSimpleName() + ": " + absent);
            return;
        }
        StringBuilder slice = new StringBuilder();
        int jobLines = 0;
        try (BufferedReader in = Files.newBufferedReader(file)) {
            String line;
            while (jobLines < JOBS && (line = in.readLine()) != null) {
                slice.append(line).append('\n');
                if (!line.startsWith(";") && !line.isBlank()) jobLines++;
            }
        }
        SwfTrace.Trace trace = SwfTrace.parse(slice.toString());
        assertThat(trace.problems()).isEmpty();
        assertThat(trace.maxProcs()).hasValue(128);
        jobs = trace.jobs();
    }

    @Test
    void theSliceReplaysOnTheMachinesOwnSizeWithLittleWaiting() {
        long tasks = jobs.stream().mapToLong(SwfTrace.TraceJob::tasks).sum();

        Simulation.Result r = new Simulation(Simulation.Settings.defaults(128), List.of(), Scheduler.standard(), new BurstDecision()::decide)
                .run(jobs, line -> {});

        assertThat(r.jobs()).isEqualTo(JOBS);
        assertThat(r.tasks()).isEqualTo(tasks);
        // The log's submit times are its start times (see its header): on its own 128 processors almost nothing waits.
        assertThat(r.p95WaitSeconds()).isZero();
        double lastSubmit = jobs.stream().mapToDouble(SwfTrace.TraceJob::submitSeconds).max().orElseThrow();
        assertThat(r.makespanSeconds()).isGreaterThanOrEqualTo(lastSubmit);
    }

    @Test
    void onHalfTheMachineBurstingCutsTheP95Wait() {
        Simulation.Result onPrem = new Simulation(Simulation.Settings.defaults(64), List.of(), Scheduler.standard(), new BurstDecision()::decide)
                .run(jobs, line -> {});
        Simulation.Result burst = new Simulation(Simulation.Settings.defaults(64), List.of(SimulatedPool.defaultPool().toCloudPool()), Scheduler.standard(),
                new BurstDecision()::decide).run(jobs, line -> {});

        assertThat(onPrem.p95WaitSeconds()).isGreaterThan(600);
        assertThat(burst.p95WaitSeconds()).isLessThan(onPrem.p95WaitSeconds() / 2);
        assertThat(burst.cloudCostUsd()).isPositive();
        assertThat(burst.tasks()).isEqualTo(onPrem.tasks());
    }

    @Test
    void skippingTheDecisionsThatWouldAskForNothingChangesNoFigureOfTheWholeLog() throws Exception {
        List<SwfTrace.TraceJob> all = SwfTrace.parse(Files.readString(tracesDir().resolve(FILE))).jobs();
        Simulation.Result[] r = new Simulation.Result[2];
        for (int every = 0; every < 2; every++) {
            Simulation sim = new Simulation(Simulation.Settings.defaults(64), List.of(SimulatedPool.defaultPool().toCloudPool()), Scheduler.standard(),
                    new BurstDecision()::decide);
            if (every == 1) sim.everyTick();
            r[every] = sim.run(all, line -> {});
        }
        assertThat(r[0].burstTicks()).isLessThan(r[1].burstTicks() / 2);
        assertThat(r[0].instances()).isEqualTo(r[1].instances());
        assertThat(r[0].cloudCostUsd()).isEqualTo(r[1].cloudCostUsd());
        assertThat(r[0].meanWaitSeconds()).isEqualTo(r[1].meanWaitSeconds());
        assertThat(r[0].p95WaitSeconds()).isEqualTo(r[1].p95WaitSeconds());
        assertThat(r[0].actions()).isEqualTo(r[1].actions());
        assertThat(r[0].tasksByPool()).isEqualTo(r[1].tasksByPool());
    }
}
