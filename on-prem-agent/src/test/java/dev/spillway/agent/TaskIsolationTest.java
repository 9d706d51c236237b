package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.LogChunk;
import dev.spillway.api.agent.v1.LogRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tasks never see the agent's secrets, checked on the OS: real agent processes (started like
 * {@code spillway-agent}, against a {@link LoopbackBroker}), real task processes, real users.
 * Tests that switch users need this JVM to run as root and are skipped otherwise.
 */
class TaskIsolationTest {

    private static final String TOKEN = "agent-token-6b2f9c41e0d87a35";
    private static final String JOIN_TOKEN_IN_ENV = "join.env-token-0c7e4d19a2";
    private static final String PRIVATE_SETTING = "agent-private-setting-5e8a";
    /** The names of the agent's own environment that must not reach a task. */
    private static final List<String> AGENT_ONLY_NAMES = List.of("SPILLWAY_JOIN_TOKEN", "AGENT_PRIVATE_SETTING", "JAVA_HOME", "MAVEN_OPTS");
    /** What a shell adds to the environment it was given. */
    private static final Set<String> SHELL_ADDS = Set.of("PWD", "OLDPWD", "SHLVL", "_");

    @TempDir
    Path tmp;

    private LoopbackBroker broker;
    private final List<Process> agents = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        // Open the test's directory to others, so that what keeps a task out below is the agent's file modes, not this directory.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        broker = new LoopbackBroker();
    }

    @AfterEach
    void stopAgents() throws Exception {
        for (Process agent : agents) {
            agent.destroy(); // SIGTERM: the agent drains and exits
            if (!agent.waitFor(30, TimeUnit.SECONDS)) agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        broker.close();
    }

    @Test
    void aTaskSeesNeitherTheAgentsTokenNorItsCredentialNorItsEnvironment() throws Exception {
        assumeRoot("an agent running as root runs tasks as another user; as uid " + uid() + " tasks would run as the agent's own user");
        Path tokenFile = tokenFile("root");
        Path work = tmp.resolve("agent");
        startAgent(List.of(), work, tokenFile); // as root, no --run-as: spillway-task if it exists, else nobody

        String job = submit("""
                id -u
                env
                cat "$TOKEN_FILE"
                cat "$CREDENTIAL_FILE"
                cat /proc/$PPID/environ
                """, Map.of("TOKEN_FILE", tokenFile.toString(), "CREDENTIAL_FILE", work.resolve("node-credential").toString()));
        AttemptStatus end = awaitEnd(job);

        String out = Files.readString(log(work, job, false));
        String err = Files.readString(log(work, job, true));
        assertThat(end.getState()).isEqualTo(AttemptState.ATTEMPT_STATE_EXITED);
        assertThat(end.getExitCode()).isNotZero(); // the last cat failed
        String taskUser = osUid("spillway-task").isPresent() ? "spillway-task" : "nobody";
        assertThat(out.lines().findFirst()).contains(osUid(taskUser).orElseThrow());
        assertThat(out + err).doesNotContain(TOKEN, JOIN_TOKEN_IN_ENV, PRIVATE_SETTING, LoopbackBroker.NODE_CREDENTIAL);
        assertThat(envNames(out)).doesNotContainAnyElementsOf(AGENT_ONLY_NAMES);
        assertThat(err).contains("cat: " + tokenFile + ": Permission denied")
                .contains("cat: " + work.resolve("node-credential") + ": Permission denied")
                .containsPattern("cat: /proc/\\d+/environ: Permission denied");
        // The agent's own files keep their modes and owner.
        assertThat(mode(tokenFile)).isEqualTo("rw-------");
        assertThat(mode(work.resolve("node-credential"))).isEqualTo("rw-------");
        assertThat(Files.readString(work.resolve("node-credential")).trim()).isEqualTo(LoopbackBroker.NODE_CREDENTIAL);
    }

    @Test
    void tasksRunAsTheRunAsUserInADirectoryOfTheirOwnAndTheirOutputStillReachesTheBroker() throws Exception {
        assumeRoot("switching to --run-as nobody needs root (this JVM runs as uid " + uid() + ")");
        Path work = tmp.resolve("agent");
        startAgent(List.of(), work, tokenFile("root"), "--run-as", "nobody");

        String job = submit("id -u; id -g; cd \"$HOME\" && echo cache > .cache-file && cat .cache-file; echo \"dir=$SPILLWAY_WORK_DIR\"; exit 7",
                Map.of());
        AttemptStatus end = awaitEnd(job);

        String nobody = osUid("nobody").orElseThrow();
        Path attemptDir = work.resolve("attempts").resolve(job).resolve("0").resolve("1");
        Path taskDir = attemptDir.resolve("work");
        assertThat(end.getState()).isEqualTo(AttemptState.ATTEMPT_STATE_EXITED);
        assertThat(end.getExitCode()).isEqualTo(7);
        assertThat(Files.readString(log(work, job, false))).isEqualTo(nobody + "\n" + osGid("nobody") + "\ncache\ndir=" + taskDir + "\n");
        assertThat(Files.readString(log(work, job, true))).isEmpty();
        // The task's directory is nobody's; the agent's directories let it pass but not look around.
        assertThat(Files.getAttribute(taskDir, "unix:uid", LinkOption.NOFOLLOW_LINKS)).hasToString(nobody);
        assertThat(mode(taskDir)).isEqualTo("rwx------");
        assertThat(Files.getAttribute(taskDir.resolve(".cache-file"), "unix:uid")).hasToString(nobody);
        for (Path d : List.of(work.resolve("attempts"), work.resolve("attempts").resolve(job), attemptDir)) {
            assertThat(Files.getAttribute(d, "unix:uid")).as(d.toString()).isEqualTo(0);
            assertThat(mode(d)).as(d.toString()).isEqualTo("rwx--x--x");
        }
        assertThat(mode(log(work, job, false))).isEqualTo("rw-------");

        broker.send(ConnectResponse.newBuilder().setLogRequest(LogRequest.newBuilder().setRequestId("logs-1").setJobId(job)
                .setTaskIndex(0).setAttempt(1)).build());
        await().atMost(Duration.ofSeconds(20)).until(() -> chunks("logs-1").stream().anyMatch(LogChunk::getEof));
        assertThat(text(chunks("logs-1"))).startsWith(nobody + "\n");
    }

    /** The cloud boot script's setup: the agent runs as its own user with exactly these ambient capabilities and {@code --run-as}. */
    @Test
    void anAgentUserWithAmbientCapabilitiesRunsTasksAsTheRunAsUserAndTheyKeepNoCapability() throws Exception {
        assumeRoot("starting an agent as another user with ambient capabilities needs root (this JVM runs as uid " + uid() + ")");
        String agentUser = "daemon"; // a user Debian images have: stands in for spillway-agent
        assumeTrue(osUid(agentUser).isPresent(), "no user " + agentUser + " on this machine");
        Path work = Files.createDirectory(tmp.resolve("agent"));
        Path tokenFile = tokenFile(agentUser);
        Files.setAttribute(work, "unix:uid", Integer.parseInt(osUid(agentUser).orElseThrow()));
        List<String> asAgentUser = List.of("setpriv", "--reuid=" + agentUser, "--regid=" + osGid(agentUser), "--init-groups",
                "--inh-caps=+setuid,+setgid,+kill,+chown,+fowner", "--ambient-caps=+setuid,+setgid,+kill,+chown,+fowner", "--");
        Process agent = startAgent(asAgentUser, work, tokenFile, "--run-as", "nobody");
        assertThat(Files.readAllLines(Path.of("/proc", Long.toString(agent.pid()), "status")))
                .anyMatch(l -> l.matches("Uid:\\s+" + osUid(agentUser).orElseThrow() + "\\s.*"))
                .anyMatch(l -> l.matches("CapAmb:\\s+00000000000000e9"));
        if (NativeLauncher.class.getResource(NativeLauncher.resource(System.getProperty("os.name"), System.getProperty("os.arch"))) != null) {
            // this build has the launcher: these tasks start through it, entering their directory after the switch (--chdir)
            assertThat(agentLog()).contains("attempts start through " + work.resolve("bin").resolve(NativeLauncher.NAME));
        }

        String job = submit("""
                id -u
                grep -E '^Cap(Inh|Prm|Eff|Amb):' /proc/self/status
                env
                cat "$TOKEN_FILE"
                cat "$CREDENTIAL_FILE"
                cat /proc/$PPID/environ
                """, Map.of("TOKEN_FILE", tokenFile.toString(), "CREDENTIAL_FILE", work.resolve("node-credential").toString()));
        AttemptStatus end = awaitEnd(job);

        String out = Files.readString(log(work, job, false));
        String err = Files.readString(log(work, job, true));
        assertThat(out.lines().findFirst()).as("%s; stdout %s, stderr %s, agent log %s", end, out, err, agentLog()).contains(osUid("nobody").orElseThrow());
        assertThat(out).contains("CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
                "CapAmb:\t0000000000000000");
        assertThat(out + err).doesNotContain(TOKEN, JOIN_TOKEN_IN_ENV, PRIVATE_SETTING, LoopbackBroker.NODE_CREDENTIAL);
        assertThat(envNames(out)).doesNotContainAnyElementsOf(AGENT_ONLY_NAMES);
        assertThat(err).contains("cat: " + tokenFile + ": Permission denied")
                .contains("cat: " + work.resolve("node-credential") + ": Permission denied")
                .containsPattern("cat: /proc/\\d+/environ: Permission denied");
        assertThat(Files.getAttribute(work.resolve("node-credential"), "unix:uid")).hasToString(osUid(agentUser).orElseThrow());
        assertThat(mode(work.resolve("node-credential"))).isEqualTo("rw-------");
    }

    @Test
    void malformedAssignmentsAndLogRequestsAreRefusedBeforeAnythingHappens() throws Exception {
        Path work = tmp.resolve("agent");
        Path outside = tmp.resolve("outside");
        startAgent(List.of(), work, tokenFile(System.getProperty("user.name")));

        List<Assign> malformed = List.of(
                assign("../outside", 0, 1),
                assign("../../" + tmp.getFileName() + "/outside", 0, 1),
                assign(UUID.randomUUID() + "/../../../outside", 0, 1),
                assign(UUID.randomUUID().toString(), -1, 1),
                assign(UUID.randomUUID().toString(), 0, -1));
        malformed.forEach(a -> broker.send(ConnectResponse.newBuilder().setAssign(a).build()));
        broker.send(ConnectResponse.newBuilder().setLogRequest(LogRequest.newBuilder().setRequestId("sneaky")
                .setJobId("../../../../../../etc").setTaskIndex(0).setAttempt(0)).build());

        await().atMost(Duration.ofSeconds(20)).until(() -> broker.reports().size() >= malformed.size() && !chunks("sneaky").isEmpty());
        assertThat(broker.reports()).allSatisfy(r -> {
            assertThat(r.getState()).isEqualTo(AttemptState.ATTEMPT_STATE_START_FAILED);
            assertThat(r.getMessage()).startsWith("refused by the agent: ");
        });
        assertThat(broker.reports()).extracting(AttemptStatus::getMessage).contains(
                "refused by the agent: job id '../outside' is not a UUID",
                "refused by the agent: task index -1 is negative",
                "refused by the agent: attempt -1 is negative");
        assertThat(chunks("sneaky")).singleElement().satisfies(c -> {
            assertThat(c.getError()).isEqualTo("refused by the agent: job id '../../../../../../etc' is not a UUID");
            assertThat(c.getData().isEmpty()).isTrue();
        });
        assertThat(outside).doesNotExist();
        try (Stream<Path> made = Files.list(work.resolve("attempts"))) {
            assertThat(made).isEmpty();
        }
    }

    /** In-process: an attempt started as the agent's own user still gets only the allowlisted environment. */
    @Test
    void theEnvironmentATaskSeesOnTheOsHoldsOnlyTheAllowlistTheJobAndTheAttemptsVariables() throws Exception {
        Assign assign = assign(UUID.randomUUID().toString(), 2, 0).toBuilder().clearCommand()
                .addCommand("/bin/sh").addCommand("-c").addCommand("env")
                .putEnv("DATASET", "s3://bucket/x").putEnv("SPILLWAY_TASK_COUNT", "4").build();
        Attempt a = new Attempt(AttemptId.verify(assign), assign, tmp.resolve("attempts"), TaskUser.agentsOwn(), x -> { });
        a.start();
        await().atMost(Duration.ofSeconds(10)).until(a::finished);

        Map<String, String> env = Files.readString(a.log(false)).lines().filter(l -> l.contains("="))
                .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1), (x, y) -> y));
        Set<String> expected = new java.util.HashSet<>(Set.of("PATH", "HOME", "USER", "LOGNAME", "DATASET", "SPILLWAY_TASK_COUNT",
                "SPILLWAY_JOB_ID", "SPILLWAY_TASK_INDEX", "SPILLWAY_ATTEMPT", "SPILLWAY_WORK_DIR"));
        System.getenv().keySet().stream().filter(TaskEnvironment::inheritable).forEach(expected::add);
        assertThat(env.keySet()).isSubsetOf(union(expected, SHELL_ADDS)).containsAll(expected);
        assertThat(env).containsEntry("HOME", a.workDir().toString()).containsEntry("SPILLWAY_WORK_DIR", a.workDir().toString())
                .containsEntry("SPILLWAY_JOB_ID", assign.getJobId()).containsEntry("SPILLWAY_TASK_INDEX", "2")
                .containsEntry("SPILLWAY_ATTEMPT", "0").containsEntry("DATASET", "s3://bucket/x");
    }

    /**
     * In-process: a directory above the attempts that the task's user may not pass (a 0700 data
     * directory) does not keep it from its own; started through the chain of programs and through
     * the agent's launcher, it runs as that user with no capabilities.
     */
    @ParameterizedTest
    @ValueSource(strings = {"chain", "launcher"})
    void aTaskStartsInItsDirectoryEvenWhenADirectoryAboveIsClosedToItsUser(String launch) throws Exception {
        assumeRoot("running a task as nobody needs root (this JVM runs as uid " + uid() + ")");
        Path closed = Files.createDirectory(tmp.resolve("closed"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Assign assign = assign(UUID.randomUUID().toString(), 0, 1).toBuilder().clearCommand().addCommand("/bin/sh").addCommand("-c")
                .addCommand("id -u; pwd; echo data > here && cat here; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status").build();
        Attempt a = new Attempt(AttemptId.verify(assign), assign, closed.resolve("attempts"), nobody(launch), x -> { });
        a.start();
        await().atMost(Duration.ofSeconds(10)).until(a::finished);

        assertThat(Files.readString(a.log(true))).isEmpty();
        assertThat(a.status().getExitCode()).isZero();
        assertThat(Files.readString(a.log(false))).isEqualTo(osUid("nobody").orElseThrow() + "\n" + a.workDir() + "\ndata\n"
                + "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapAmb:\t0000000000000000\n");
    }

    /** In-process: stopping and sampling reach a task that runs as another user (through either launch). */
    @ParameterizedTest
    @ValueSource(strings = {"chain", "launcher"})
    void aTaskOfAnotherUserIsSampledAndItsWholeTreeStopped(String launch) throws Exception {
        assumeRoot("running a task as nobody needs root (this JVM runs as uid " + uid() + ")");
        Assign assign = assign(UUID.randomUUID().toString(), 0, 1).toBuilder().clearCommand().addCommand("/bin/sh").addCommand("-c")
                .addCommand("sleep 300 & (sleep 300 &); while :; do :; done").build();
        Attempt a = new Attempt(AttemptId.verify(assign), assign, tmp.resolve("attempts"), nobody(launch), x -> { });
        a.start();
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                a.sample();
                return a.status().getCpuTimeMillis() >= 200;
            });
            List<ProcessHandle> tree = ProcessHandle.allProcesses().filter(p -> owner(p.pid()).equals(osUid("nobody").orElseThrow())
                    && commandLine(p.pid()).contains("sleep 300")).toList();
            assertThat(tree).hasSizeGreaterThanOrEqualTo(2);

            a.stop(AttemptState.ATTEMPT_STATE_KILLED, "test", 2000);

            await().atMost(Duration.ofSeconds(15)).until(a::finished);
            assertThat(a.status().getState()).isEqualTo(AttemptState.ATTEMPT_STATE_KILLED);
            await().atMost(Duration.ofSeconds(15)).until(() -> tree.stream().noneMatch(ProcessHandle::isAlive));
        } finally {
            a.stop(AttemptState.ATTEMPT_STATE_KILLED, "test over", 1000);
        }
    }

    /** Tasks as nobody, started through the chain of programs or through the launcher (skipped where the build has none). */
    private TaskUser nobody(String launch) throws IOException {
        if (launch.equals("chain")) return TaskUser.forThisAgent(Optional.of("nobody"));
        Optional<Path> launcher = NativeLauncher.install(tmp.resolve("agent"));
        assumeTrue(launcher.isPresent(), "this build has no spillway-launch (no C compiler)");
        TaskUser user = TaskUser.forThisAgent(Optional.of("nobody"), launcher);
        assertThat(user.launcher()).isEqualTo(launcher);
        return user;
    }

    // --- the agent as a process ---

    private Process startAgent(List<String> prefix, Path work, Path tokenFile, String... extra) throws IOException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m", "-XX:TieredStopAtLevel=1",
                "-cp", classPath(!prefix.isEmpty()), AgentMain.class.getName(),
                "--broker", broker.address(), "--insecure", "--token-file", tokenFile.toString(), "--name", "isolated",
                "--cpu", "1", "--memory", "256Mi", "--work-dir", work.toString(), "--drain", "hand-back"));
        cmd.addAll(Arrays.asList(extra));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("agent-" + agents.size() + ".log").toFile());
        pb.environment().put("SPILLWAY_JOIN_TOKEN", JOIN_TOKEN_IN_ENV);
        pb.environment().put("AGENT_PRIVATE_SETTING", PRIVATE_SETTING);
        pb.environment().putIfAbsent("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().putIfAbsent("MAVEN_OPTS", "-Xmx1g");
        Process agent = pb.start();
        agents.add(agent);
        await().atMost(Duration.ofSeconds(30)).until(() -> broker.agentConnected() || !agent.isAlive());
        assertThat(agent.isAlive()).as("agent started; its log: %s", agentLog()).isTrue();
        return agent;
    }

    private String agentLog() {
        try (Stream<Path> logs = Files.list(tmp).filter(p -> p.getFileName().toString().matches("agent-\\d+\\.log"))) {
            return logs.map(p -> {
                try {
                    return Files.readString(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** This test's class path; copied to a directory every user may read when the agent runs as another user. */
    private String classPath(boolean forAnotherUser) throws IOException {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        if (!forAnotherUser) return cp;
        Path copy = Files.createDirectory(tmp.resolve("classpath"));
        List<String> entries = new ArrayList<>();
        int n = 0;
        for (String entry : cp.split(java.io.File.pathSeparator)) {
            Path from = Path.of(entry);
            if (!Files.exists(from)) continue;
            Path to = copy.resolve((n++) + (Files.isDirectory(from) ? "" : ".jar"));
            try (Stream<Path> files = Files.walk(from)) {
                for (Path f : files.toList()) {
                    Path target = to.resolve(from.relativize(f).toString());
                    if (Files.isDirectory(f)) Files.createDirectories(target);
                    else Files.copy(f, Files.isDirectory(from) ? target : to, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            entries.add(to.toString());
        }
        try (Stream<Path> all = Files.walk(copy)) {
            for (Path p : all.toList()) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        return String.join(java.io.File.pathSeparator, entries);
    }

    /** The agent's token file as an operator keeps it: owned by the agent's user, mode 0600. */
    private Path tokenFile(String owner) throws IOException {
        Path f = tmp.resolve("agent-token");
        Files.writeString(f, TOKEN + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        Files.setAttribute(f, "unix:uid", Integer.parseInt(osUid(owner).orElseThrow()));
        return f;
    }

    private String submit(String script, Map<String, String> env) {
        String job = UUID.randomUUID().toString();
        Assign assign = assign(job, 0, 1).toBuilder().clearCommand().addCommand("/bin/sh").addCommand("-c").addCommand(script)
                .putAllEnv(env).build();
        broker.send(ConnectResponse.newBuilder().setAssign(assign).build());
        return job;
    }

    private static Assign assign(String job, int task, int attempt) {
        return Assign.newBuilder().setJobId(job).setTaskIndex(task).setAttempt(attempt).addCommand("/bin/sh").addCommand("-c")
                .addCommand("touch \"$SPILLWAY_WORK_DIR/ran\"").putEnv("SPILLWAY_JOB_ID", job).putEnv("SPILLWAY_TASK_COUNT", "1").build();
    }

    private AttemptStatus awaitEnd(String job) {
        await().atMost(Duration.ofSeconds(30)).until(() -> end(job).isPresent());
        return end(job).orElseThrow();
    }

    private Optional<AttemptStatus> end(String job) {
        return broker.reports().stream().filter(r -> r.getJobId().equals(job))
                .filter(r -> r.getState() != AttemptState.ATTEMPT_STATE_RUNNING && r.getState() != AttemptState.ATTEMPT_STATE_UNSPECIFIED)
                .findFirst();
    }

    private static Path log(Path work, String job, boolean stderr) {
        return Attempt.log(work.resolve("attempts").resolve(job).resolve("0").resolve("1"), stderr);
    }

    private List<LogChunk> chunks(String requestId) {
        return broker.logChunks().stream().filter(c -> c.getRequestId().equals(requestId)).toList();
    }

    private static String text(List<LogChunk> chunks) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        chunks.forEach(c -> out.writeBytes(c.getData().toByteArray()));
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Names of an {@code env} listing's variables. */
    private static List<String> envNames(String out) {
        return out.lines().filter(l -> l.matches("[A-Za-z_][A-Za-z0-9_]*=.*")).map(l -> l.substring(0, l.indexOf('='))).toList();
    }

    // --- the OS ---

    private static void assumeRoot(String why) {
        assumeTrue(uid() == 0, why);
    }

    private static int uid() {
        try {
            return TaskUser.AgentProcess.fromStatus(Files.readString(Path.of("/proc/self/status"))).uid();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The OS's answer to {@code id -u USER}. */
    private static Optional<String> osUid(String user) {
        return id("-u", user);
    }

    private static String osGid(String user) {
        return id("-g", user).orElseThrow();
    }

    private static Optional<String> id(String flag, String user) {
        try {
            Process p = new ProcessBuilder("id", flag, user).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor() == 0 ? Optional.of(out) : Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    private static String owner(long pid) {
        try {
            return Files.getAttribute(Path.of("/proc", Long.toString(pid)), "unix:uid").toString();
        } catch (IOException | RuntimeException gone) {
            return "";
        }
    }

    private static String commandLine(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException gone) {
            return "";
        }
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new java.util.HashSet<>(a);
        u.addAll(b);
        return u;
    }
}
