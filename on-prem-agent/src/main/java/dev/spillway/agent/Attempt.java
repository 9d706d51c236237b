package dev.spillway.agent;

import com.google.protobuf.Timestamp;
import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * One task attempt on this node: an OS process run as the {@link TaskUser}, with the
 * {@link TaskEnvironment}, in its own working directory. Reports its status through
 * {@code onChange}.
 *
 * <p>On disk, {@code <attempts root>/<job>/<task>/<attempt>/} is the agent's (mode 0711: others may
 * pass through, not list) and holds {@code stdout.log} and {@code stderr.log} (0600, the agent's;
 * the agent copies the task's output pipes into them, each capped, keeping the newest output: see
 * {@link CappedLog}), the end once there is one ({@link AttemptEndFile}), and {@code work/}, the task's
 * working directory, owned by the task's user (0700). The logs are not in the task's directory,
 * so a task cannot swap them for a link to the agent's files and have the agent send those out
 * as its output.
 */
final class Attempt {

    static String key(String jobId, int index, int attempt) {
        return jobId + "/" + index + "#" + attempt;
    }

    private static final Logger LOG = Logger.getLogger(Attempt.class.getName());
    private static final Set<PosixFilePermission> PASS_THROUGH = PosixFilePermissions.fromString("rwx--x--x");
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_READ_WRITE = PosixFilePermissions.fromString("rw-------");

    private final AttemptId id;
    private final Assign spec;
    private final Path attemptsRoot;
    private final Path dir;
    private final TaskUser user;
    private final Consumer<Attempt> onChange;
    /** Default cap of each output file: 100 MiB. */
    static final long DEFAULT_MAX_LOG_BYTES = 100L * 1024 * 1024;
    /** Longest wait for the output pumps after the processes are gone (a process out of reach may hold the pipe). */
    private static final long PUMP_WAIT_MILLIS = 5000;

    private final AttemptCgroups cgroups;
    private final long maxLogBytes;
    /** stdout and stderr while the agent copies them, null before the start (and for an attempt found ended on disk). */
    private volatile CappedLog stdout;
    private volatile CappedLog stderr;
    private final List<Future<?>> pumps = new ArrayList<>(2);
    private volatile Process process;
    /** The attempt's own cgroup while it runs; null when contained by its process group only. */
    private volatile AttemptCgroups.Cgroup cgroup;
    private volatile AttemptState state = AttemptState.ATTEMPT_STATE_UNSPECIFIED;
    private volatile int exitCode;
    private volatile String message = "";
    private volatile Instant startTime;
    private volatile Instant endTime;
    private volatile long cpuTimeMillis;
    private volatile long peakMemoryMib;
    /** Why the agent is stopping the process, if it is: decides how the end is reported. */
    private volatile AttemptState stopAs;
    /** The broker acknowledged this attempt's end ({@code AttemptEndsRecorded}): it is not re-sent any more. */
    private volatile boolean endRecorded;
    private volatile boolean endReported;

    /**
     * @param id   the checked id of {@code spec} ({@link AttemptId#verify(Assign)})
     * @param user who the process runs as
     */
    Attempt(AttemptId id, Assign spec, Path attemptsRoot, TaskUser user, Consumer<Attempt> onChange) {
        this(id, spec, attemptsRoot, user, null, DEFAULT_MAX_LOG_BYTES, onChange);
    }

    Attempt(AttemptId id, Assign spec, Path attemptsRoot, TaskUser user, AttemptCgroups cgroups, Consumer<Attempt> onChange) {
        this(id, spec, attemptsRoot, user, cgroups, DEFAULT_MAX_LOG_BYTES, onChange);
    }

    /**
     * @param cgroups     where the attempt gets its own cgroup, or null to contain it by its process
     *                    group only ({@link ProcessTree})
     * @param maxLogBytes the cap of each of stdout.log and stderr.log ({@link CappedLog})
     */
    Attempt(AttemptId id, Assign spec, Path attemptsRoot, TaskUser user, AttemptCgroups cgroups, long maxLogBytes,
            Consumer<Attempt> onChange) {
        this.cgroups = cgroups;
        this.maxLogBytes = maxLogBytes;
        this.id = id;
        this.spec = spec;
        this.attemptsRoot = attemptsRoot;
        this.dir = id.dirUnder(attemptsRoot);
        this.user = user;
        this.onChange = onChange;
    }

    /**
     * An attempt that ended before this agent started (found in its directory by
     * {@link AttemptEndFile#scan}) and whose end the broker has not acknowledged yet.
     */
    static Attempt ended(AttemptId id, AttemptStatus end, Path attemptsRoot, TaskUser user, Consumer<Attempt> onChange) {
        Assign spec = Assign.newBuilder().setJobId(end.getJobId()).setTaskIndex(end.getTaskIndex()).setAttempt(end.getAttempt()).build();
        Attempt a = new Attempt(id, spec, attemptsRoot, user, onChange);
        a.exitCode = end.getExitCode();
        a.message = end.getMessage();
        a.cpuTimeMillis = end.getCpuTimeMillis();
        a.peakMemoryMib = end.getPeakMemoryMib();
        if (end.hasStartTime()) a.startTime = Instant.ofEpochSecond(end.getStartTime().getSeconds(), end.getStartTime().getNanos());
        a.endTime = AttemptEndFile.endTime(end).orElse(Instant.now());
        a.state = end.getState();
        a.endReported = true;
        return a;
    }

    String key() {
        return id.key();
    }

    /** The attempt's directory: its logs, and its working directory. */
    Path dir() {
        return dir;
    }

    /** The task's working directory (its HOME and SPILLWAY_WORK_DIR). */
    Path workDir() {
        return dir.resolve("work");
    }

    Path log(boolean stderr) {
        return log(dir, stderr);
    }

    /** The capped stdout or stderr while the agent writes it (offsets since the start), or null (read the file as it is). */
    CappedLog output(boolean stderr) {
        return stderr ? this.stderr : this.stdout;
    }

    /**
     * The threads that pump attempts' output and wait for their processes: three per running
     * attempt, kept between attempts (a thread per use cost each attempt three thread starts and
     * exits, a sixth of the agent's CPU when attempts are short: freeing a stack unmaps it on every core).
     */
    private static final ExecutorService IO = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "attempt-io");
        t.setDaemon(true);
        return t;
    });

    /** Where an attempt whose directory is {@code dir} keeps its stdout or stderr. */
    static Path log(Path dir, boolean stderr) {
        return dir.resolve(stderr ? "stderr.log" : "stdout.log");
    }

    boolean finished() {
        return state != AttemptState.ATTEMPT_STATE_RUNNING && state != AttemptState.ATTEMPT_STATE_UNSPECIFIED;
    }

    /**
     * Starts the process ({@link #launch}); reports RUNNING, or START_FAILED with the reason.
     */
    void start() {
        startTime = Instant.now();
        AttemptCgroups.Cgroup cg = null;
        try {
            prepareDirectories();
            if (cgroups != null) {
                try {
                    cg = cgroups.create(id, spec.getResources());
                } catch (IOException e) {
                    LOG.warning("cannot create a cgroup for " + key() + "; it is contained by its process group only: " + e);
                }
            }
            Launch launch = launch(dir, workDir(), user, cg, spec.getCommandList());
            ProcessBuilder pb = new ProcessBuilder(launch.command())
                    .directory(launch.directory().toFile())
                    .redirectOutput(ProcessBuilder.Redirect.PIPE)
                    .redirectError(ProcessBuilder.Redirect.PIPE)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Map<String, String> env = pb.environment();
            env.clear();
            env.putAll(TaskEnvironment.build(System.getenv(), id, spec.getEnvMap(), workDir(), user.account().name()));
            cgroup = cg;
            CappedLog out = new CappedLog(log(false), maxLogBytes);
            CappedLog err = new CappedLog(log(true), maxLogBytes);
            Process p;
            try {
                p = pb.start();
            } catch (IOException | RuntimeException e) {
                out.close();
                err.close();
                throw e;
            }
            process = p;
            stdout = out;
            stderr = err;
            pumps.add(IO.submit(() -> out.pump(p.getInputStream())));
            pumps.add(IO.submit(() -> err.pump(p.getErrorStream())));
            state = AttemptState.ATTEMPT_STATE_RUNNING;
            onChange.accept(this);
            // Waits with waitFor rather than onExit: the JDK hands a process's exit to its stream objects
            // first, and that waits while a pump reads a pipe a process left behind still holds.
            IO.execute(() -> {
                try {
                    p.waitFor();
                } catch (InterruptedException e) {
                    return;
                }
                exited();
            });
        } catch (IOException | RuntimeException e) {
            if (cg != null) cg.killAndRemove();
            message = "cannot start " + spec.getCommand(0) + ": " + e.getMessage();
            end(AttemptState.ATTEMPT_STATE_START_FAILED, -1);
        }
    }

    /** How an attempt's process is started: its command line, and the directory the agent starts it in. */
    record Launch(List<String> command, Path directory) {
    }

    /**
     * How the attempt in {@code attemptDir} runs {@code command}, as few execs as its guarantees
     * allow, one pid throughout (each step execs the next). In order: the process enters the
     * attempt's cgroup {@code cg} (when it has one: {@link AttemptCgroups.Cgroup#enter}, a
     * {@code /bin/sh}, exit code 125 if it cannot) before anything else runs or forks; starts a new
     * session ({@code setsid}, {@link ProcessTree#wrap}); becomes the task's user without the
     * agent's capabilities ({@code setpriv}, {@link TaskUser#wrap}, when it switches or drops
     * anything); execs the command. The working directory: when the agent may enter the task's
     * directory itself ({@link TaskUser#agentEntersTaskDirectories}: root, or tasks run as the
     * agent's user) the process starts in it (the JDK's {@code chdir} before the first exec, along a
     * path of the agent's own directories down to {@code work}, which the agent created); otherwise
     * it starts in the attempt's directory and enters {@code work} after the user switch
     * ({@link #entering}, one more {@code /bin/sh}). With a cgroup and root that is 4 execs:
     * {@code sh}, {@code setsid}, {@code setpriv}, the command; with the agent's
     * {@link NativeLauncher} ({@link TaskUser#launcher}), the same steps are one program: 2 execs.
     */
    static Launch launch(Path attemptDir, Path workDir, TaskUser user, AttemptCgroups.Cgroup cg, List<String> command) {
        boolean startInWorkDir = user.agentEntersTaskDirectories();
        if (user.launcher().isPresent()) {
            return new Launch(NativeLauncher.command(user.launcher().get(), cg == null ? null : cg.procs(), true, user.launcherOptions(),
                    startInWorkDir ? null : workDir.getFileName().toString(), command), startInWorkDir ? workDir : attemptDir);
        }
        List<String> chain = startInWorkDir ? command : entering(workDir.getFileName().toString(), command);
        chain = ProcessTree.wrap(user.wrap(chain));
        if (cg != null) chain = cg.enter(chain);
        return new Launch(chain, startInWorkDir ? workDir : attemptDir);
    }

    /**
     * {@code command}, run from the attempt's directory after entering {@code workDir} (a name in
     * it) as the task's user. The agent may not enter the task's directory itself (an agent user
     * without CAP_DAC_OVERRIDE cannot), and the task's user may not reach it by its full path
     * (a directory above may be closed to others), so the process starts in the attempt's
     * directory, switches user, then enters by a relative name ({@code -P}: a shell's logical
     * {@code cd} would go through the full path); {@code exec} keeps the pid.
     */
    static List<String> entering(String workDir, List<String> command) {
        List<String> entering = new ArrayList<>(List.of("/bin/sh", "-c", "cd -P ./\"$0\" && exec \"$@\"", workDir));
        entering.addAll(command);
        return entering;
    }

    /** Creates the attempt's directories and log files as described above; the working directory last, handed to the task's user. */
    private void prepareDirectories() throws IOException {
        ownDirectories();
        for (boolean stderr : new boolean[] {false, true}) {
            Path log = log(stderr);
            try {
                Files.createFile(log, PosixFilePermissions.asFileAttribute(OWNER_READ_WRITE));
            } catch (FileAlreadyExistsException e) {
                if (!Files.isRegularFile(log, LinkOption.NOFOLLOW_LINKS)) throw e;
            }
            Files.setPosixFilePermissions(log, OWNER_READ_WRITE);
        }
        ownDirectory(workDir(), OWNER_ONLY);
        user.handOver(workDir());
    }

    /** The agent's directories down to the attempt's own (all {@link #PASS_THROUGH}). */
    private void ownDirectories() throws IOException {
        Path level = attemptsRoot;
        ownDirectory(level, PASS_THROUGH);
        for (Path name : attemptsRoot.relativize(dir)) {
            level = level.resolve(name);
            ownDirectory(level, PASS_THROUGH);
        }
    }

    /** Creates {@code d} with {@code mode} if missing (set explicitly: the umask may narrow it); an existing one is left as it is. */
    private static void ownDirectory(Path d, Set<PosixFilePermission> mode) throws IOException {
        try {
            Files.createDirectory(d, PosixFilePermissions.asFileAttribute(mode));
            Files.setPosixFilePermissions(d, mode);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)) throw e;
        }
    }

    /**
     * Samples CPU time and memory of the attempt (called periodically while running): from its
     * cgroup when it has one ({@link AttemptCgroups.Cgroup#usage}), else of its process tree.
     */
    void sample() {
        Process p = process;
        if (p == null || !p.isAlive()) return;
        AttemptCgroups.Cgroup cg = cgroup;
        long[] usage = cg != null ? cg.usage() : ProcessTree.usage(p);
        cpuTimeMillis = Math.max(cpuTimeMillis, usage[0]);
        peakMemoryMib = Math.max(peakMemoryMib, usage[1]);
    }

    /** Stops the whole process tree; the end is reported as {@code as} (KILLED or HANDED_BACK). */
    void stop(AttemptState as, String why, long graceMillis) {
        Process p = process;
        if (p == null || finished()) return;
        stopAs = as;
        message = why;
        AttemptCgroups.Cgroup cg = cgroup;
        if (cg != null) cg.terminate(); // processes that left the group get the same grace
        ProcessTree.kill(p, graceMillis);
    }

    /**
     * The attempt's first process exited: whatever it left behind is killed before the end is
     * reported — every process in its cgroup (then the cgroup is removed), or, contained by
     * process group only, every process still in its group.
     */
    private void exited() {
        int code = process.exitValue();
        AttemptCgroups.Cgroup cg = cgroup;
        if (cg != null) {
            int left = cg.killAndRemove();
            if (left > 0) LOG.fine(() -> "killed " + left + " process(es) " + key() + " left behind");
        } else {
            ProcessTree.killGroup(process.pid());
        }
        // The last output is in the files before the end is reported (a reader stops at the end).
        long pumpDeadline = System.nanoTime() + PUMP_WAIT_MILLIS * 1_000_000;
        for (Future<?> pump : pumps) {
            try {
                pump.get(Math.max(0, pumpDeadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // a process out of reach holds the pipe, or the pump failed: the end is reported with what the files have
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        AttemptState as = stopAs != null ? stopAs : AttemptState.ATTEMPT_STATE_EXITED;
        if (stopAs == null) message = "exited with code " + code;
        end(as, code);
    }

    /**
     * Ends an attempt that was never started (the node drains): reported as {@code as} with
     * {@code why}, and kept like any other end until the broker acknowledges it.
     */
    void endUnstarted(AttemptState as, String why) {
        message = why;
        try {
            ownDirectories();
        } catch (IOException e) {
            LOG.warning("cannot create " + dir + " to keep the end of " + key() + ": " + e.getMessage());
        }
        end(as, 0);
    }

    /**
     * The end is written to the attempt's directory before it is reported, so it is re-sent after
     * an agent restart until the broker acknowledges it; a failed write is logged, and the end is
     * still reported (and re-sent while this agent runs).
     */
    private synchronized void end(AttemptState as, int code) {
        if (finished()) return;
        exitCode = code;
        endTime = Instant.now();
        state = as;
        try {
            AttemptEndFile.write(dir, status());
        } catch (IOException e) {
            LOG.warning("cannot keep the end of " + key() + " in " + dir + " (it is not re-sent if this agent restarts before the broker "
                    + "acknowledges it): " + e.getMessage());
        }
        onChange.accept(this);
        endReported = true;
    }

    /** Ended, and the end was handed to {@code onChange} (sent to the broker, if connected). */
    boolean endReported() {
        return endReported;
    }

    /** The broker acknowledged this attempt's end: it is no longer re-sent, here or after a restart. */
    synchronized void endRecorded() {
        if (!finished() || endRecorded) return;
        endRecorded = true;
        try {
            AttemptEndFile.markRecorded(dir);
        } catch (IOException e) {
            LOG.warning("cannot mark the end of " + key() + " as recorded in " + dir + " (it is re-sent after a restart): " + e.getMessage());
        }
    }

    /** Ended, and the broker has not acknowledged the end yet: it goes in every report and registration. */
    boolean endUnrecorded() {
        return finished() && !endRecorded;
    }

    boolean isEndRecorded() {
        return endRecorded;
    }

    AttemptStatus status() {
        AttemptStatus.Builder b = AttemptStatus.newBuilder()
                .setJobId(spec.getJobId())
                .setTaskIndex(spec.getTaskIndex())
                .setAttempt(spec.getAttempt())
                .setState(state)
                .setExitCode(exitCode)
                .setMessage(message)
                .setCpuTimeMillis(cpuTimeMillis)
                .setPeakMemoryMib(peakMemoryMib);
        if (startTime != null) b.setStartTime(ts(startTime));
        if (endTime != null) b.setEndTime(ts(endTime));
        return b.build();
    }

    Instant endTime() {
        return endTime;
    }

    private static Timestamp ts(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }
}
