package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttemptTest {

    @TempDir
    Path dir;

    static final String JOB = "4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a93";

    private final List<AttemptState> changes = new CopyOnWriteArrayList<>();

    private Attempt attempt(String script) {
        Assign assign = Assign.newBuilder().setJobId(JOB).setTaskIndex(3).setAttempt(1)
                .addCommand("/bin/sh").addCommand("-c").addCommand(script)
                .putEnv("SPILLWAY_TASK_INDEX", "3").build();
        return new Attempt(AttemptId.verify(assign), assign, dir, TaskUser.agentsOwn(), a -> changes.add(a.status().getState()));
    }

    @Test
    void runsInItsOwnDirectoryWithItsEnvironmentAndCapturesOutput() throws Exception {
        Attempt a = attempt("echo \"index $SPILLWAY_TASK_INDEX in $(pwd)\"; echo oops >&2; exit 3");
        a.start();
        await().atMost(Duration.ofSeconds(10)).until(a::finished);
        assertThat(changes).containsExactly(AttemptState.ATTEMPT_STATE_RUNNING, AttemptState.ATTEMPT_STATE_EXITED);
        assertThat(a.status().getExitCode()).isEqualTo(3);
        assertThat(Files.readString(a.log(false))).isEqualTo("index 3 in " + a.workDir() + "\n");
        assertThat(Files.readString(a.log(true))).isEqualTo("oops\n");
    }

    @Test
    void stoppingKillsTheWholeProcessTree() throws Exception {
        // Two children, and a grandchild whose parent exits at once: it is re-parented away from
        // the attempt's tree but stays in its process group.
        Attempt a = attempt("sleep 300 & sleep 300 & (sleep 300 &) ; wait");
        a.start();
        long leader = leader(a).pid();
        await().atMost(Duration.ofSeconds(10)).until(() -> inGroup(leader).size() >= 4);
        List<ProcessHandle> group = inGroup(leader);

        a.stop(AttemptState.ATTEMPT_STATE_KILLED, "test", 2000);

        await().atMost(Duration.ofSeconds(10)).until(a::finished);
        assertThat(a.status().getState()).isEqualTo(AttemptState.ATTEMPT_STATE_KILLED);
        await().atMost(Duration.ofSeconds(10)).until(() -> group.stream().noneMatch(ProcessHandle::isAlive));
    }

    /** Live processes whose process group is {@code pgid} (field 5 of /proc/PID/stat). */
    private static List<ProcessHandle> inGroup(long pgid) {
        return ProcessHandle.allProcesses().filter(p -> {
            try {
                String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                return Long.parseLong(fields[2]) == pgid;
            } catch (Exception gone) {
                return false;
            }
        }).toList();
    }

    @Test
    void aCommandThatCannotStartIsReportedAsSuch() {
        Assign assign = Assign.newBuilder().setJobId(JOB).setTaskIndex(0).setAttempt(1).addCommand("/no/such/program").build();
        Attempt a = new Attempt(AttemptId.verify(assign), assign, dir, TaskUser.agentsOwn(), x -> changes.add(x.status().getState()));
        a.start();
        await().atMost(Duration.ofSeconds(10)).until(a::finished);
        // setsid itself starts, then fails to exec the program: exit code 127 (or a start failure)
        assertThat(a.status().getState()).isIn(AttemptState.ATTEMPT_STATE_EXITED, AttemptState.ATTEMPT_STATE_START_FAILED);
        if (a.status().getState() == AttemptState.ATTEMPT_STATE_EXITED) assertThat(a.status().getExitCode()).isNotZero();
    }

    /** The exec chain: cgroup entry, new session, task user, command; the working directory entered before or after the switch. */
    @Test
    void anAttemptStartsThroughAsFewExecsAsItsGuaranteesAllow() {
        Path attemptDir = dir.resolve("a");
        Path work = attemptDir.resolve("work");
        AttemptCgroups.Cgroup cg = new AttemptCgroups.Cgroup(Path.of("/sys/fs/cgroup/x/attempt-1"));
        TaskUser.Account nobody = new TaskUser.Account("nobody", 65534, 65534);
        Optional<Path> setpriv = Optional.of(Path.of("/usr/bin/setpriv"));
        TaskUser asRoot = TaskUser.choose(Optional.empty(), new TaskUser.AgentProcess(0, 0x1ffffffffffL, 0), "root",
                k -> Optional.of(nobody), setpriv);
        long unitCaps = (1L << 0) | (1L << 3) | (1L << 5) | (1L << 6) | (1L << 7);
        TaskUser.Account agent = new TaskUser.Account("spillway-agent", 998, 998);
        TaskUser asAgentUser = TaskUser.choose(Optional.of("nobody"), new TaskUser.AgentProcess(998, unitCaps, unitCaps), "spillway-agent",
                k -> Optional.of(k.equals("998") ? agent : nobody), setpriv);
        List<String> setprivNobody = List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--init-groups", "--inh-caps=-all",
                "--ambient-caps=-all", "--");

        // root: sh (cgroup), setsid, setpriv, the command; started in the working directory
        Attempt.Launch root = Attempt.launch(attemptDir, work, asRoot, cg, List.of("true"));
        assertThat(root.directory()).isEqualTo(work);
        assertThat(root.command()).startsWith("/bin/sh", "-c").containsSubsequence("/sys/fs/cgroup/x/attempt-1/cgroup.procs", "setsid")
                .endsWith(concat(List.of("setsid"), setprivNobody, List.of("true")).toArray(String[]::new));
        assertThat(root.command().stream().filter(c -> c.equals("/bin/sh"))).hasSize(1);

        // an agent user that may not enter the task's directory: it is entered after the switch, from the attempt's directory
        Attempt.Launch unprivileged = Attempt.launch(attemptDir, work, asAgentUser, cg, List.of("true"));
        assertThat(unprivileged.directory()).isEqualTo(attemptDir);
        assertThat(unprivileged.command()).endsWith(concat(List.of("setsid"), setprivNobody,
                List.of("/bin/sh", "-c", "cd -P ./\"$0\" && exec \"$@\"", "work", "true")).toArray(String[]::new));

        // no cgroup, the agent's own user: setsid and the command only
        Attempt.Launch plain = Attempt.launch(attemptDir, work, TaskUser.agentsOwn(), null, List.of("true"));
        assertThat(plain).isEqualTo(new Attempt.Launch(List.of("setsid", "true"), work));

        // with the agent's launcher: every step in its one exec, in the same places
        Path launcher = Path.of("/var/lib/spillway/bin/spillway-launch");
        assertThat(Attempt.launch(attemptDir, work, asRoot.launchingWith(launcher, List.of(65534, 100)), cg, List.of("true"))).isEqualTo(
                new Attempt.Launch(List.of(launcher.toString(), "--cgroup-procs", "/sys/fs/cgroup/x/attempt-1/cgroup.procs", "--new-session",
                        "--drop-caps", "--user", "65534", "--group", "65534", "--groups", "65534,100", "--", "true"), work));
        assertThat(Attempt.launch(attemptDir, work, asAgentUser.launchingWith(launcher, List.of()), null, List.of("true"))).isEqualTo(
                new Attempt.Launch(List.of(launcher.toString(), "--new-session", "--drop-caps", "--user", "65534", "--group", "65534", "--groups",
                        "65534", "--chdir", "work", "--", "true"), attemptDir));
    }

    @Test
    void theAgentStartsProcessesWithVforkOnLinuxJdksBefore25UnlessTheOperatorChoseAMechanism() {
        assertThat(ProcessTree.prefersVfork(null, "Linux", 17)).isTrue();
        assertThat(ProcessTree.prefersVfork(null, "Linux", 21)).isTrue();
        assertThat(ProcessTree.prefersVfork(null, "Linux", 25)).isFalse();
        assertThat(ProcessTree.prefersVfork("POSIX_SPAWN", "Linux", 17)).isFalse();
        assertThat(ProcessTree.prefersVfork(null, "Mac OS X", 17)).isFalse();
    }

    @SafeVarargs
    private static List<String> concat(List<String>... parts) {
        return java.util.stream.Stream.of(parts).flatMap(List::stream).toList();
    }

    private static Process leader(Attempt a) throws Exception {
        var f = Attempt.class.getDeclaredField("process");
        f.setAccessible(true);
        return (Process) f.get(a);
    }
}
