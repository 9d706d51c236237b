package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.v1.Resources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Processes a task leaves behind are gone once its attempt ended: with a cgroup per attempt even
 * those that started their own session; with the process group fallback, those still in its group.
 * Real processes; the cgroup tests need a writable cgroup2 hierarchy (root) and are skipped otherwise.
 */
class ContainmentTest {

    @TempDir
    Path tmp;

    private final List<Attempt> attempts = new ArrayList<>();
    private AttemptCgroups cgroups;

    @AfterEach
    void stop() {
        attempts.forEach(a -> a.stop(AttemptState.ATTEMPT_STATE_KILLED, "test over", 500));
        if (cgroups != null) {
            await().atMost(Duration.ofSeconds(15)).until(() -> attempts.stream().allMatch(Attempt::finished));
            cgroups.close();
        }
    }

    // --- deciding where (no I/O) ---

    @Test
    void theCgroup2MountIsFoundInMountinfoOnHybridAndPureHosts() {
        String hybrid = """
                30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
                34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
                40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
                """;
        String pure = "25 20 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assertThat(AttemptCgroups.cgroup2Mount(hybrid)).contains(Path.of("/sys/fs/cgroup/unified"));
        assertThat(AttemptCgroups.cgroup2Mount(pure)).contains(Path.of("/sys/fs/cgroup"));
        assertThat(AttemptCgroups.cgroup2Mount("34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")).isEmpty();
        assertThat(AttemptCgroups.cgroup2Mount("40 30 0:37 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n"))
                .contains(Path.of("/mnt/my cgroups"));
    }

    @Test
    void attemptsGoUnderTheAgentsOwnCgroupOrASpillwaySubtreeOfTheRoot() {
        Path mount = Path.of("/sys/fs/cgroup");
        assertThat(AttemptCgroups.ownCgroup("4:memory:/x\n0::/system.slice/spillway-agent.service\n")).contains("/system.slice/spillway-agent.service");
        assertThat(AttemptCgroups.ownCgroup("4:memory:/x\n")).isEmpty();
        assertThat(AttemptCgroups.autoBase(mount, "/system.slice/spillway-agent.service"))
                .isEqualTo(Path.of("/sys/fs/cgroup/system.slice/spillway-agent.service"));
        assertThat(AttemptCgroups.autoBase(mount, "/")).isEqualTo(Path.of("/sys/fs/cgroup/spillway"));
        assertThat(AttemptCgroups.agentCgroupName("node/1 x", Path.of("/var/lib/a"))).matches("agent-node_1_x-[0-9a-f]{8}")
                .isNotEqualTo(AttemptCgroups.agentCgroupName("node/1 x", Path.of("/var/lib/b")));
    }

    @Test
    void noneTurnsContainmentOff() {
        AttemptCgroups.Opened opened = AttemptCgroups.open(AttemptCgroups.NONE, "n", tmp);
        assertThat(opened.cgroups()).isEmpty();
        assertThat(opened.why()).contains("--cgroup-root none");
    }

    // --- with a cgroup per attempt ---

    @Test
    void aBackgroundProcessIsGoneOnceTheAttemptExited() throws Exception {
        Attempt a = start(cgroups(), TaskUser.agentsOwn(), "sleep 1000 & echo $! > pid; exit 0");
        assertLeftoverGone(a, AttemptState.ATTEMPT_STATE_EXITED);
    }

    @Test
    void aProcessInItsOwnSessionIsGoneOnceTheAttemptExited() throws Exception {
        Attempt a = start(cgroups(), TaskUser.agentsOwn(), "setsid sleep 1000 & echo $! > pid; exit 0");
        assertLeftoverGone(a, AttemptState.ATTEMPT_STATE_EXITED);
    }

    @Test
    void aProcessInItsOwnSessionIsGoneOnceTheAttemptIsKilled() throws Exception {
        Attempt a = start(cgroups(), TaskUser.agentsOwn(), "setsid sleep 1000 & echo $! > pid; sleep 1000");
        Path pidFile = a.workDir().resolve("pid");
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(pidFile) && !Files.readString(pidFile).isBlank());
        a.stop(AttemptState.ATTEMPT_STATE_KILLED, "test", 1000);
        assertLeftoverGone(a, AttemptState.ATTEMPT_STATE_KILLED);
    }

    @Test
    void aTaskOfAnotherUserIsContainedToo() throws Exception {
        assumeTrue(ProcessHandle.current().info().user().orElse("").equals("root"), "running a task as nobody needs root");
        Attempt a = start(cgroups(), TaskUser.forThisAgent(Optional.of("nobody")), "setsid sleep 1000 & echo $! > pid; id -u; exit 0");
        assertLeftoverGone(a, AttemptState.ATTEMPT_STATE_EXITED);
        assertThat(Files.readString(a.log(false)).trim()).isNotEqualTo("0");
    }

    @Test
    void theTaskRunsInsideItsAttemptsCgroupFromItsFirstInstruction() throws Exception {
        AttemptCgroups cg = cgroups();
        Attempt a = start(cg, TaskUser.agentsOwn(), "cat /proc/self/cgroup | grep '^0::'");
        await().atMost(Duration.ofSeconds(10)).until(a::finished);
        assertThat(a.status().getExitCode()).as(Files.readString(a.log(true))).isZero();
        assertThat(Files.readString(a.log(false))).contains("/" + cg.path().getFileName() + "/attempt-" + AttemptTest.JOB);
        // and the attempt's cgroup went with it
        try (var left = Files.list(cg.path())) {
            assertThat(left.filter(p -> p.getFileName().toString().startsWith("attempt-"))).isEmpty();
        }
    }

    @Test
    void anAttemptInACgroupIsSampledFromItsCgroupIncludingProcessesThatAlreadyExited() throws Exception {
        // a child burns CPU then exits; the busy loop after it keeps the attempt running
        Attempt a = start(cgroups(), TaskUser.agentsOwn(),
                "sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'; echo $$ > pid; while :; do :; done");
        Path pidFile = a.workDir().resolve("pid");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(pidFile) && !Files.readString(pidFile).isBlank());
        long leaderCpu = ProcessTree.cpuMillis(Long.parseLong(Files.readString(pidFile).trim()));
        a.sample();
        // the cgroup's count has the exited child's CPU too, which the leader's own does not
        assertThat(a.status().getCpuTimeMillis()).isGreaterThan(leaderCpu + 50);
        assertThat(a.status().getPeakMemoryMib()).isGreaterThanOrEqualTo(0);
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            a.sample();
            return a.status().getCpuTimeMillis() >= leaderCpu + 300;
        });
    }

    @Test
    void aProcessThatCannotEnterItsCgroupRunsNothingAndExits125WithALineOnStderr() throws Exception {
        Path missing = tmp.resolve("no-such-cgroup");
        Path ran = tmp.resolve("ran");
        Process p = new ProcessBuilder(new AttemptCgroups.Cgroup(missing).enter(List.of("touch", ran.toString())))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor()).isEqualTo(125);
        assertThat(err).contains("spillway: cannot enter the attempt's cgroup " + missing.resolve("cgroup.procs"));
        assertThat(ran).doesNotExist();
    }

    // --- the fallback: the process group ---

    @Test
    void withoutACgroupTheProcessGroupIsKilledOnceTheAttemptExited() throws Exception {
        Attempt a = start(null, TaskUser.agentsOwn(), "sleep 1000 & echo $! > pid; exit 0");
        assertLeftoverGone(a, AttemptState.ATTEMPT_STATE_EXITED);
    }

    // ---

    private AttemptCgroups cgroups() {
        AttemptCgroups.Opened opened = AttemptCgroups.open(AttemptCgroups.AUTO, "containment-test-" + UUID.randomUUID(), tmp);
        assumeTrue(opened.cgroups().isPresent(), "no writable cgroup v2 here: " + opened.why());
        cgroups = opened.cgroups().get();
        return cgroups;
    }

    private Attempt start(AttemptCgroups cg, TaskUser user, String script) {
        Assign assign = Assign.newBuilder().setJobId(AttemptTest.JOB).setTaskIndex(attempts.size()).setAttempt(1)
                .addCommand("/bin/sh").addCommand("-c").addCommand(script)
                .setResources(Resources.newBuilder().setCpuMillis(500).setMemoryMib(64)).build();
        Attempt a = new Attempt(AttemptId.verify(assign), assign, tmp.resolve("attempts"), user, cg, x -> { });
        attempts.add(a);
        a.start();
        return a;
    }

    private static void assertLeftoverGone(Attempt a, AttemptState as) throws Exception {
        await().atMost(Duration.ofSeconds(15)).until(a::finished);
        assertThat(a.status().getState()).as(a.status().getMessage()).isEqualTo(as);
        Path pidFile = a.workDir().resolve("pid");
        assertThat(pidFile).as("stderr: %s", Files.readString(a.log(true))).exists();
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(Path.of("/proc", Long.toString(pid))));
    }
}
