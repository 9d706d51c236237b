package dev.spillway.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A task attempt's processes. Each attempt starts through {@code setsid}, so its first process
 * leads a new session and process group whose id is its pid; signalling the group reaches every
 * process the task started, however deep, unless one left the group on purpose (those are found
 * by walking descendants while the first process lives; once it has exited, one that started its
 * own session is out of reach). This is all the containment an attempt has when it has no cgroup
 * of its own ({@link AttemptCgroups}).
 */
final class ProcessTree {

    private ProcessTree() {}

    /** The JDK's system property that chooses how it starts processes. */
    static final String LAUNCH_MECHANISM = "jdk.lang.Process.launchMechanism";

    /**
     * Makes this JVM start processes with {@code vfork} (the child execs the command itself)
     * rather than the JDK 17+ default {@code posix_spawn}, which on Linux first execs the JDK's
     * {@code jspawnhelper}, which then execs the command: one exec less per attempt, about a
     * quarter more attempts per second on a 2-core machine ({@link SpawnBenchmark}; VFORK was the
     * JDK's own default on Linux up to JDK 11). FORK, the other choice, copies the agent's page
     * tables on every start and was more than twice as slow as the default there. Call it
     * first thing in {@code main}: the JDK reads the property once, when it starts its first
     * process. Left alone when the property is already set ({@code -Djdk.lang.Process.launchMechanism=...}),
     * off Linux, and from JDK 25 on, which deprecates VFORK (a notice on stderr at the first start)
     * and will remove it (an unknown value would make every process start fail).
     */
    static void preferVforkLaunch() {
        if (prefersVfork(System.getProperty(LAUNCH_MECHANISM), System.getProperty("os.name", ""), Runtime.version().feature())) {
            System.setProperty(LAUNCH_MECHANISM, "VFORK");
        }
    }

    /** The decision of {@link #preferVforkLaunch}, without I/O: {@code set} is the property's value, if any. */
    static boolean prefersVfork(String set, String osName, int jdkFeature) {
        return set == null && osName.equals("Linux") && jdkFeature < 25;
    }

    static List<String> wrap(List<String> command) {
        return java.util.stream.Stream.concat(java.util.stream.Stream.of("setsid"), command.stream()).toList();
    }

    /** SIGTERM to the group, then SIGKILL to whatever is left after {@code graceMillis}. */
    static void kill(Process leader, long graceMillis) {
        List<ProcessHandle> descendants = leader.descendants().toList();
        signalGroup(leader.pid(), "TERM");
        descendants.forEach(ProcessHandle::destroy);
        try {
            leader.waitFor(graceMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        signalGroup(leader.pid(), "KILL");
        leader.descendants().forEach(ProcessHandle::destroyForcibly);
        descendants.forEach(ProcessHandle::destroyForcibly);
        leader.destroyForcibly();
    }

    /** SIGKILL to every process left in the group {@code pgid} (the attempt's first process has exited). */
    static void killGroup(long pgid) {
        signalGroup(pgid, "KILL");
    }

    private static void signalGroup(long pgid, String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, "--", "-" + pgid).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            kill.waitFor(5, TimeUnit.SECONDS);
        } catch (IOException e) {
            // no kill(1): the descendant walk still reaches the processes
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** CPU time (ms) and resident memory (MiB) of the leader and its descendants right now. */
    static long[] usage(Process leader) {
        long cpu = 0;
        long rssKib = 0;
        for (ProcessHandle p : java.util.stream.Stream.concat(java.util.stream.Stream.of(leader.toHandle()), leader.descendants()).toList()) {
            cpu += p.info().totalCpuDuration().map(java.time.Duration::toMillis).orElse(0L);
            rssKib += rssKib(p.pid());
        }
        return new long[] {cpu, rssKib / 1024};
    }

    /** CPU time (ms) of process {@code pid} itself so far; 0 once it is gone. */
    static long cpuMillis(long pid) {
        return ProcessHandle.of(pid).flatMap(h -> h.info().totalCpuDuration()).map(java.time.Duration::toMillis).orElse(0L);
    }

    /** Resident memory (KiB) of process {@code pid} now; 0 once it is gone. */
    static long rssKib(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", ""));
            }
        } catch (IOException | NumberFormatException ignored) {
            // the process just exited
        }
        return 0;
    }
}
