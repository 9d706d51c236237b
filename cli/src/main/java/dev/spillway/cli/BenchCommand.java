package dev.spillway.cli;

/**
 * {@code spillway bench submit|queue|e2e|estimate|failover}: the benchmarks that need the CLI's local launcher
 * ({@link LocalCluster}: a real broker on embedded PostgreSQL and agent processes). The benchmarks
 * of the pure cores ({@code bench scheduler}, {@code bench burst}) and the simulator
 * ({@code simulate}) live in {@code bench/} ({@code bench/target/spillway-bench.jar}); the
 * {@code spillway} launcher script sends those commands there.
 */
@picocli.CommandLine.Command(name = "bench",
        description = {"Benchmarks; each ends with one line 'RESULT <name> <metric>=<value> ...'.",
                "Here: submit, queue, e2e, estimate, failover, console. 'scheduler' and 'burst' (and 'spillway simulate') run from bench/target/spillway-bench.jar;",
                "the ./spillway launcher dispatches them."},
        subcommands = {SubmitBenchmark.class, QueueBenchmark.class, EndToEndBenchmark.class, EstimateBenchmark.class, FailoverBenchmark.class,
                ConsoleBenchmark.class})
final class BenchCommand {
}
