package dev.spillway.agent;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How fast this machine runs {@code true} the way an agent runs an attempt, with no broker: the
 * attempt's directories, its cgroup (or process group), the same launch ({@link Attempt#launch}:
 * cgroup entry, new session, task user, through the {@link NativeLauncher} where the jar has it), started the way the agent starts processes
 * ({@link ProcessTree#preferVforkLaunch}), piped and capped output, the wait for its end and its end file. {@code spillway bench e2e} runs it
 * beside the end-to-end run, so that figure reads as a share of what the agents alone could do.
 *
 * <p>Usage: {@code java -cp spillway-agent.jar dev.spillway.agent.SpawnBenchmark ATTEMPTS CONCURRENCY WORK_DIR [CGROUP_ROOT]}
 * (or {@code --raw PROCESSES THREADS WORK_DIR}: the raw spawn rate, see {@link #raw})
 * (the agent's {@code --cgroup-root}: auto, none or a directory; default auto);
 * prints {@code RESULT spawn attempts=.. concurrency=.. per_sec=..}.
 */
public final class SpawnBenchmark {

    private SpawnBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        ProcessTree.preferVforkLaunch(); // as the agent does
        if (args.length > 0 && args[0].equals("--raw")) {
            raw(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Path.of(args[3]));
            return;
        }
        int total = Integer.parseInt(args[0]);
        int concurrency = Integer.parseInt(args[1]);
        Path work = Path.of(args[2]);
        Path root = work.resolve("attempts");
        Files.createDirectories(root);
        TaskUser user = TaskUser.forThisAgent(Optional.empty(), NativeLauncher.install(work));
        AttemptCgroups.Opened opened = AttemptCgroups.open(args.length > 3 ? args[3] : AttemptCgroups.AUTO, "spawn-bench", work);
        AttemptCgroups cgroups = opened.cgroups().orElse(null);
        ExecutorService workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "spawn-bench");
            t.setDaemon(true);
            return t;
        });
        Semaphore slots = new Semaphore(concurrency);
        CountDownLatch done = new CountDownLatch(total);
        AtomicInteger failed = new AtomicInteger();
        String job = UUID.randomUUID().toString();
        long start = System.nanoTime();
        for (int i = 0; i < total; i++) {
            slots.acquire();
            Assign assign = Assign.newBuilder().setJobId(job).setTaskIndex(i).setAttempt(1).addCommand("true").build();
            Attempt attempt = new Attempt(AttemptId.verify(assign), assign, root, user, cgroups, Attempt.DEFAULT_MAX_LOG_BYTES, a -> {
                if (a.finished()) {
                    if (a.status().getState() != AttemptState.ATTEMPT_STATE_EXITED || a.status().getExitCode() != 0) failed.incrementAndGet();
                    slots.release();
                    done.countDown();
                }
            });
            workers.execute(attempt::start);
        }
        done.await();
        double seconds = (System.nanoTime() - start) / 1e9;
        workers.shutdownNow();
        if (cgroups != null) cgroups.close(); // every attempt's cgroup is gone: no empty agent cgroup is left per run
        if (failed.get() > 0) System.err.println(failed.get() + " of " + total + " attempts did not exit 0");
        System.out.println(String.format(Locale.ROOT, "RESULT spawn attempts=%d concurrency=%d per_sec=%.1f cgroups=%b", total, concurrency,
                total / seconds, cgroups != null));
    }

    /**
     * The machine's raw spawn rate, {@code /bin/true} started the way the agent starts an attempt's
     * process: by this JVM's launch mechanism, in a new session through the agent's
     * {@link NativeLauncher} (installed in {@code work}; {@code setsid} where the jar has none),
     * output piped and read, waited for; {@code total} of them on {@code threads} threads, and
     * nothing else: no directories, cgroup, user switch or files.
     * Prints {@code RESULT spawn_raw processes=.. threads=.. per_sec=.. cores=.. launch=.. via=..}, where cores is the CPU
     * the loop used (this JVM and the processes it started) over its duration.
     */
    static void raw(int total, int threads, Path work) throws Exception {
        Optional<Path> launcher = NativeLauncher.install(work);
        List<String> command = launcher.map(l -> NativeLauncher.command(l, null, true, List.of(), null, List.of("/bin/true")))
                .orElse(List.of("setsid", "/bin/true"));
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> loops = new ArrayList<>();
            int each = total / threads;
            long cpuBefore = cpuTicksWithChildren();
            long start = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                loops.add(pool.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        Process p = new ProcessBuilder(command)
                                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
                        try (var stdout = p.getInputStream(); var stderr = p.getErrorStream()) {
                            stdout.transferTo(java.io.OutputStream.nullOutputStream());
                            stderr.transferTo(java.io.OutputStream.nullOutputStream());
                        }
                        p.waitFor();
                    }
                    return null;
                }));
            }
            for (Future<?> f : loops) f.get();
            double seconds = (System.nanoTime() - start) / 1e9;
            long cpuAfter = cpuTicksWithChildren();
            double cores = cpuBefore < 0 || cpuAfter < 0 ? Double.NaN : (cpuAfter - cpuBefore) / (double) CLOCK_TICKS / seconds;
            System.out.println(String.format(Locale.ROOT, "RESULT spawn_raw processes=%d threads=%d per_sec=%.1f cores=%.2f launch=%s via=%s",
                    each * threads, threads, each * threads / seconds, cores, System.getProperty("jdk.lang.Process.launchMechanism", "default"),
                    launcher.isPresent() ? NativeLauncher.NAME : "setsid"));
        } finally {
            pool.shutdownNow();
        }
    }

    /** The kernel's clock tick, the unit of /proc's CPU times (USER_HZ: 100 on every Linux architecture Spillway builds for). */
    private static final int CLOCK_TICKS = 100;

    /**
     * CPU time of this JVM and of the children it waited for so far, in clock ticks (utime, stime,
     * cutime and cstime of /proc/self/stat): what the loop costs the machine, its processes' exec
     * and exit included. -1 where there is no /proc.
     */
    static long cpuTicksWithChildren() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            // Fields after the command name, which is in parentheses and may hold spaces.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }
}
