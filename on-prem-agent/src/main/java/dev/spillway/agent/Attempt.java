package dev.spillway.agent;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.Assign;
import dev.spillway.api.v1.AttemptState;
import dev.spillway.api.v1.AttemptStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One task attempt on this node: an OS process in its own working directory, with stdout and
 * stderr captured to files there. Reports its status through {@code onChange}.
 */
final class Attempt {

    static String key(String jobId, int index, int attempt) {
        return jobId + "/" + index + "#" + attempt;
    }

    private final Assign spec;
    private final Path dir;
    private final Consumer<Attempt> onChange;
    private volatile Process process;
    private volatile AttemptState state = AttemptState.ATTEMPT_STATE_UNSPECIFIED;
    private volatile int exitCode;
    private volatile String message = "";
    private volatile Instant startTime;
    private volatile Instant endTime;
    private volatile long cpuTimeMillis;
    private volatile long peakMemoryMib;
    /** Why the agent is stopping the process, if it is: decides how the end is reported. */
    private volatile AttemptState stopAs;

    Attempt(Assign spec, Path attemptsRoot, Consumer<Attempt> onChange) {
        this.spec = spec;
        this.dir = attemptsRoot.resolve(spec.getJobId()).resolve(Integer.toString(spec.getTaskIndex()))
                .resolve(Integer.toString(spec.getAttempt()));
        this.onChange = onChange;
    }

    String key() {
        return key(spec.getJobId(), spec.getTaskIndex(), spec.getAttempt());
    }

    Path dir() {
        return dir;
    }

    Path log(boolean stderr) {
        return dir.resolve(stderr ? "stderr.log" : "stdout.log");
    }

    boolean finished() {
        return state != AttemptState.ATTEMPT_STATE_RUNNING && state != AttemptState.ATTEMPT_STATE_UNSPECIFIED;
    }

    /** Starts the process; reports RUNNING, or START_FAILED with the reason. */
    void start() {
        startTime = Instant.now();
        try {
            Files.createDirectories(dir);
            ProcessBuilder pb = new ProcessBuilder(ProcessTree.wrap(spec.getCommandList()))
                    .directory(dir.toFile())
                    .redirectOutput(log(false).toFile())
                    .redirectError(log(true).toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Map<String, String> env = pb.environment();
            env.putAll(spec.getEnvMap());
            env.put("SPILLWAY_WORK_DIR", dir.toString());
            process = pb.start();
            state = AttemptState.ATTEMPT_STATE_RUNNING;
            onChange.accept(this);
            process.onExit().thenRun(this::exited);
        } catch (IOException | RuntimeException e) {
            message = "cannot start " + spec.getCommand(0) + ": " + e.getMessage();
            end(AttemptState.ATTEMPT_STATE_START_FAILED, -1);
        }
    }

    /** Samples CPU time and memory of the process tree (called periodically while running). */
    void sample() {
        Process p = process;
        if (p == null || !p.isAlive()) return;
        long[] usage = ProcessTree.usage(p);
        cpuTimeMillis = Math.max(cpuTimeMillis, usage[0]);
        peakMemoryMib = Math.max(peakMemoryMib, usage[1]);
    }

    /** Stops the whole process tree; the end is reported as {@code as} (KILLED or HANDED_BACK). */
    void stop(AttemptState as, String why, long graceMillis) {
        Process p = process;
        if (p == null || finished()) return;
        stopAs = as;
        message = why;
        ProcessTree.kill(p, graceMillis);
    }

    private void exited() {
        int code = process.exitValue();
        AttemptState as = stopAs != null ? stopAs : AttemptState.ATTEMPT_STATE_EXITED;
        if (stopAs == null) message = "exited with code " + code;
        end(as, code);
    }

    private synchronized void end(AttemptState as, int code) {
        if (finished()) return;
        exitCode = code;
        endTime = Instant.now();
        state = as;
        onChange.accept(this);
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
