package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.Assign;
import dev.spillway.api.v1.AttemptState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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

    private static Process leader(Attempt a) throws Exception {
        var f = Attempt.class.getDeclaredField("process");
        f.setAccessible(true);
        return (Process) f.get(a);
    }
}
