package dev.spillway.bench.sim;

import dev.spillway.core.burst.BurstDecision;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.sim.Simulation;
import dev.spillway.core.sim.SwfTrace;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code spillway simulate}: replays an SWF trace through the scheduler and the burst decision on
 * a simulated clock (see {@link Simulation}) and ends with one line
 * {@code RESULT simulate jobs=… tasks=… mean_wait_s=… p95_wait_s=… max_wait_s=… makespan_s=… cloud_cost_usd=… instances=… wall_s=…}.
 */
@Command(name = "simulate", sortOptions = false,
        description = {"Replays a workload trace (Standard Workload Format) through Spillway's scheduler and burst decision on a simulated clock.",
                "Each job becomes <processors> one-cpu tasks running for its run time from its submit time."})
public final class SimulateCommand implements Callable<Integer> {

    enum Format { text, json }

    @Spec
    CommandSpec spec;

    @Option(names = "--trace", required = true, paramLabel = "FILE.swf", description = "The trace, in the Standard Workload Format.")
    Path trace;

    @Option(names = "--onprem-cpus", paramLabel = "N", description = "On-prem cpus (default: the trace's MaxProcs header).")
    Integer onpremCpus;

    @Option(names = "--node-cpus", defaultValue = "1", paramLabel = "N",
            description = "Cpus per on-prem node (default ${DEFAULT-VALUE}: the iPSC/860's nodes had one processor each).")
    int nodeCpus;

    @Option(names = "--node-memory", paramLabel = "MEM", description = "Memory per on-prem node (default 4Gi per node cpu).")
    String nodeMemory;

    @Option(names = "--task-memory", defaultValue = "1Gi", paramLabel = "MEM",
            description = "Memory of every task (default ${DEFAULT-VALUE}; SWF memory fields are not used).")
    String taskMemory;

    @Option(names = "--pools", paramLabel = "FILE", description = "Cloud pools (YAML with the broker's setting names, see bench/pools.example.yaml and README.md, Simulator); implies --burst.")
    Path poolsFile;

    @Option(names = "--burst", negatable = true,
            description = "Burst into cloud pools (--pools, or one AWS eu-central-1 pool of at most 16 instances); --no-burst: on-prem only. Default: burst iff --pools is given.")
    Boolean burst;

    @Option(names = "--spot-tolerant", description = "The trace's tasks may run on spot capacity (never interrupted in the simulator).")
    boolean spotTolerant;

    @Option(names = "--speedup", defaultValue = "1", paramLabel = "F",
            description = "Divide the submit times by F: arrivals come F times as fast, run times stay (offered load x F). Default ${DEFAULT-VALUE}.")
    double speedup;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "N", description = "Seeds the instances' boot delays (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--burst-tick", defaultValue = "5s", paramLabel = "DURATION", description = "How often the burst decision runs (default ${DEFAULT-VALUE}).")
    String burstTick;

    @Option(names = "--max-tasks-per-cycle", defaultValue = "2000", paramLabel = "N",
            description = "Queued tasks one scheduling cycle considers, in queue order (default ${DEFAULT-VALUE}).")
    int maxTasksPerCycle;

    @Option(names = "--candidate-limit", defaultValue = "8", paramLabel = "N", description = "Feasible nodes the scheduler compares per placement (default ${DEFAULT-VALUE}).")
    int candidateLimit;

    @Option(names = "--progress-every", defaultValue = "7d", paramLabel = "DURATION", description = "Simulated time between progress lines (default ${DEFAULT-VALUE}).")
    String progressEvery;

    @Option(names = {"-o", "--output"}, defaultValue = "text", paramLabel = "FORMAT",
            description = "text (progress, then the RESULT line) or json (the summary as JSON on stdout; progress on stderr).")
    Format output;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter log = output == Format.json ? err : out;
        long wallStart = System.nanoTime();

        SwfTrace.Trace parsed = SwfTrace.parse(java.nio.file.Files.readString(trace));
        for (SwfTrace.Problem p : parsed.problems()) err.println("spillway: " + trace + ":" + p.line() + ": " + p.message() + " (line skipped)");
        if (!parsed.problems().isEmpty()) err.println("spillway: skipped " + parsed.problems().size() + " invalid line(s) of " + trace);
        err.flush();
        int cpus = onpremCpus != null ? onpremCpus : parsed.maxProcs().orElseThrow(
                () -> new IllegalArgumentException("the trace has no MaxProcs header: set --onprem-cpus"));

        boolean bursting = burst != null ? burst : poolsFile != null;
        List<SimulatedPool> pools = !bursting ? List.of() : poolsFile != null ? PoolsFile.read(poolsFile) : List.of(SimulatedPool.defaultPool());
        Simulation.Settings settings = new Simulation.Settings(cpus, nodeCpus, nodeMemory != null ? Amounts.mib(nodeMemory) : 4096L * nodeCpus,
                Amounts.mib(taskMemory), spotTolerant, speedup, Duration.ofMillis(Amounts.millis(burstTick)), maxTasksPerCycle, seed,
                Duration.ofMillis(Amounts.millis(progressEvery)));

        log.printf(Locale.ROOT, "trace %s: %d jobs, %d tasks%s; on-prem %d cpus (%d nodes of %d); %s%n", trace, parsed.jobs().size(), parsed.tasks(),
                speedup == 1 ? "" : String.format(Locale.ROOT, ", arrivals x%.3g", speedup), cpus, cpus / nodeCpus, nodeCpus,
                pools.isEmpty() ? "no bursting" : "bursting into " + pools.stream()
                        .map(p -> p.name() + " (" + p.catalog() + ", max " + p.spec().maxNodes() + " nodes)").collect(Collectors.joining(", ")));
        log.flush();

        Simulation simulation = new Simulation(settings, pools.stream().map(SimulatedPool::toCloudPool).toList(), Scheduler.standard(candidateLimit),
                new BurstDecision()::decide);
        Simulation.Result r = simulation.run(parsed.jobs(), line -> {
            log.println(line);
            log.flush();
        });
        double wall = (System.nanoTime() - wallStart) / 1e9;
        log.printf(Locale.ROOT, "tasks per pool: %s; %d scheduling cycles, %d burst ticks, burst actions %s%n", r.tasksByPool(), r.schedulingCycles(),
                r.burstTicks(), r.actions());
        if (output == Format.json) {
            out.println(json(r, wall, parsed.problems().size()));
        } else {
            out.println(resultLine(r, wall));
        }
        out.flush();
        return 0;
    }

    static String resultLine(Simulation.Result r, double wallSeconds) {
        return String.format(Locale.ROOT,
                "RESULT simulate jobs=%d tasks=%d mean_wait_s=%.1f p95_wait_s=%.1f max_wait_s=%.1f makespan_s=%.1f cloud_cost_usd=%.4f instances=%d wall_s=%.1f",
                r.jobs(), r.tasks(), r.meanWaitSeconds(), r.p95WaitSeconds(), r.maxWaitSeconds(), r.makespanSeconds(), r.cloudCostUsd(), r.instances(),
                wallSeconds);
    }

    static String json(Simulation.Result r, double wallSeconds, int skippedLines) {
        String byPool = r.tasksByPool().entrySet().stream().map(e -> quote(e.getKey()) + ": " + e.getValue()).collect(Collectors.joining(", "));
        String actions = r.actions().entrySet().stream().map(e -> quote(e.getKey()) + ": " + e.getValue()).collect(Collectors.joining(", "));
        return String.format(Locale.ROOT, """
                {
                  "jobs": %d,
                  "tasks": %d,
                  "skippedLines": %d,
                  "meanWaitSeconds": %.3f,
                  "p95WaitSeconds": %.3f,
                  "maxWaitSeconds": %.3f,
                  "makespanSeconds": %.3f,
                  "cloudCostUsd": %.6f,
                  "instances": %d,
                  "instancesLeftLive": %d,
                  "tasksByPool": {%s},
                  "burstActions": {%s},
                  "schedulingCycles": %d,
                  "burstTicks": %d,
                  "wallSeconds": %.1f
                }""", r.jobs(), r.tasks(), skippedLines, r.meanWaitSeconds(), r.p95WaitSeconds(), r.maxWaitSeconds(), r.makespanSeconds(),
                r.cloudCostUsd(), r.instances(), r.instancesLeftLive(), byPool, actions, r.schedulingCycles(), r.burstTicks(), wallSeconds);
    }

    private static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }
}
