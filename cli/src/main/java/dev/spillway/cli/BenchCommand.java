package dev.spillway.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code spillway bench …}: benchmarks whose last line is {@code RESULT <name> key=value …}. */
@Command(name = "bench", description = "Benchmarks; each ends with one line 'RESULT <name> <metric>=<value> ...'.",
        subcommands = {BenchCommand.SchedulerBench.class, SubmitBenchmark.class, BurstBenchmark.class})
final class BenchCommand {

    @Command(name = "scheduler", description = "The scheduling core alone, one thread: placements/s and decision latency.")
    static final class SchedulerBench implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--nodes", defaultValue = "10000")
        int nodes;

        @Option(names = "--tasks", defaultValue = "100000")
        int tasks;

        @Option(names = "--rounds", defaultValue = "5", description = "Measured cycles after 3 warm-up cycles.")
        int rounds;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            out.printf("scheduler core: %d nodes, %d pending tasks (cpu, memory, gpu, labels, pools), seed 42%n", nodes, tasks);
            SchedulerBenchmark.Result r = SchedulerBenchmark.run(nodes, tasks, rounds, out);
            out.println(String.format(Locale.ROOT,
                    "RESULT scheduler nodes=%d tasks=%d placed=%d waiting=%d placements_per_sec=%.0f cycle_ms=%.1f decision_p50_us=%.1f decision_p99_us=%.1f decision_max_us=%.1f",
                    nodes, tasks, r.placed(), r.unplaced(), r.placementsPerSecond(), r.cycleMillis(), r.p50Micros(), r.p99Micros(), r.maxMicros()));
            out.flush();
            return Spillway.OK;
        }
    }
}
