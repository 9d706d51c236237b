package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one-exec launcher, run for real: what it refuses, and that a failed step runs nothing of
 * the command. (Attempts through it, as another user and in another directory: {@link TaskIsolationTest}.)
 * Skipped where the build had no C compiler, so the jar has no launcher.
 */
class NativeLauncherTest {

    @TempDir
    Path tmp;

    private Path launcher;

    @BeforeEach
    void install() {
        assumeTrue(NativeLauncher.class.getResource(NativeLauncher.resource(System.getProperty("os.name"), System.getProperty("os.arch"))) != null,
                "this build has no spillway-launch (no C compiler)");
        launcher = NativeLauncher.install(tmp).orElseThrow();
    }

    @Test
    void itIsInstalledInTheAgentsBinDirectoryReadOnlyAndReplacesWhateverWasThere() throws Exception {
        assertThat(launcher).isEqualTo(tmp.resolve("bin").resolve("spillway-launch"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(launcher))).isEqualTo("r-xr-xr-x");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(launcher.getParent()))).isEqualTo("rwxr-xr-x");

        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(launcher, "#!/bin/sh\necho replaced\n");
        assertThat(NativeLauncher.install(tmp)).contains(launcher);
        assertThat(run(List.of("--", "echo", "ok")).out()).isEqualTo("ok\n");
        try (var left = Files.list(launcher.getParent())) {
            assertThat(left).containsExactly(launcher); // no temporary copies left behind
        }
    }

    @Test
    void aStepThatFailsRunsNothingOfTheCommandAndExits125WithALineOnStderr() throws Exception {
        Path ran = tmp.resolve("ran");
        Result r = run(List.of("--cgroup-procs", tmp.resolve("no-such-cgroup/cgroup.procs").toString(), "--", "touch", ran.toString()));
        assertThat(r.code()).isEqualTo(125);
        assertThat(r.err()).startsWith("spillway-launch: cannot enter the attempt's cgroup " + tmp.resolve("no-such-cgroup/cgroup.procs"));
        assertThat(ran).doesNotExist();

        r = run(List.of("--new-session", "--chdir", "no-such-dir", "--", "touch", ran.toString()));
        assertThat(r.code()).isEqualTo(125);
        assertThat(r.err()).startsWith("spillway-launch: cannot enter the task's directory no-such-dir");
        assertThat(ran).doesNotExist();
    }

    @Test
    void optionsItDoesNotKnowOrIdsThatAreNotNumbersAreRefusedBeforeAnythingRuns() throws Exception {
        Path ran = tmp.resolve("ran");
        for (List<String> bad : List.of(List.of("--bogus", "--", "touch", ran.toString()),
                List.of("--user", "nobody", "--group", "0", "--groups", "0", "--", "touch", ran.toString()),
                List.of("--user", "65534", "--", "touch", ran.toString()), // a uid without its groups
                List.of("--groups", "1,x", "--user", "1", "--group", "1", "--", "touch", ran.toString()),
                List.of("--new-session"))) {
            Result r = run(bad);
            assertThat(r.code()).as("%s", bad).isEqualTo(125);
            assertThat(r.err()).as("%s", bad).startsWith("spillway-launch: ").contains("usage:");
        }
        assertThat(ran).doesNotExist();
    }

    @Test
    void aCommandThatIsNotThereExits127AndOneThatCannotBeExecuted126AsShellsDo() throws Exception {
        assertThat(run(List.of("--", "no-such-command-7f3a")).code()).isEqualTo(127);
        Path notExecutable = Files.writeString(tmp.resolve("data.txt"), "not a program");
        Result r = run(List.of("--", notExecutable.toString()));
        assertThat(r.code()).isEqualTo(126);
        assertThat(r.err()).isEqualTo("spillway-launch: cannot run " + notExecutable + ": Permission denied\n");
    }

    @Test
    void theCommandKeepsTheLaunchersPidLeadsItsOwnSessionAndGetsItsArgumentsAsGiven() throws Exception {
        Process p = new ProcessBuilder(NativeLauncher.command(launcher, null, true, List.of(), null,
                List.of("/bin/sh", "-c", "echo $$ $(cut -d' ' -f6 /proc/$$/stat) \"$1\"", "sh", "a b;$c"))).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEqualTo(p.pid() + " " + p.pid() + " a b;$c");
    }

    private record Result(int code, String out, String err) {
    }

    private Result run(List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(launcher.toString()));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectError(tmp.resolve("stderr").toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out, Files.readString(tmp.resolve("stderr")));
    }
}
