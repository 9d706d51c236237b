package dev.spillway.bench;

import dev.spillway.bench.sim.SimulateCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code spillway-bench}: the benchmarks of the pure cores and the trace simulator, on their own
 * (no broker, database or network). The {@code spillway} launcher maps {@code spillway bench
 * scheduler|burst} and {@code spillway simulate} here; {@code spillway bench submit} needs a real
 * broker and stays in the CLI.
 *
 * <p>Exit codes: 0 success; 1 error; 2 invalid input.
 */
@Command(name = "spillway-bench", mixinStandardHelpOptions = true, version = "spillway-bench 0.1.0",
        description = "Benchmarks of the pure cores, and the discrete-event simulator. Each ends with one line 'RESULT <name> <metric>=<value> ...'.",
        subcommands = {SchedulerBenchmark.class, BurstBenchmark.class, SimulateCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Through the launcher: ./spillway bench scheduler|burst, ./spillway simulate --trace FILE.swf ...;",
                "./spillway bench submit (a real broker on embedded PostgreSQL) is a command of the CLI."})
public final class SpillwayBench implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Without a subcommand: the usage. */
    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new SpillwayBench());
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException || e instanceof java.nio.file.NoSuchFileException) {
                cmd.getErr().println("spillway: " + (e instanceof java.nio.file.NoSuchFileException f ? "no such file: " + f.getFile() : e.getMessage()));
                return 2;
            }
            cmd.getErr().println("spillway: " + e);
            e.printStackTrace(cmd.getErr());
            return 1;
        });
        return cli;
    }
}
