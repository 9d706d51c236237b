package dev.spillway.cli;

import com.google.common.util.concurrent.ListenableFuture;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskTemplate;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Work through the whole system: single-task {@code true} jobs submitted over gRPC, placed by the
 * broker, run by two local agent processes, their ends recorded. Process creation is the ceiling
 * on this machine, so the same run first measures the ceilings and reports the end-to-end rate as
 * a share of each: the raw spawn rate ({@code /bin/true} started the way the agents start an
 * attempt's process, piped and waited for, in one loop), the same on as many threads as there are
 * agents (what the machine's cores can spawn at most), and the agents' own attempt path with no broker
 * ({@code dev.spillway.agent.SpawnBenchmark}: directories, cgroup, task user, session, capped
 * logs, end file; as many processes as agents, as many attempts at once as the run's agents).
 *
 * <p>Two phases: every job submitted at once (throughput: completed tasks/s from the first
 * submission to the last finish), then jobs paced at half that rate (latency: submission to
 * finish, broker clock, when the system is not saturated).
 */
@Command(name = "e2e", description = "Single-task jobs end to end through two local agents, against the machine's raw process-spawn rate.")
final class EndToEndBenchmark implements Callable<Integer> {

    private static final int AGENTS = 2;
    /** What each job's task asks for, in millicpus. */
    private static final int TASK_MILLICPUS = 100;
    private static final int WARM_UP_ROUND = 400;

    @Option(names = "--agent-cpu", defaultValue = "4", description = "Cores each agent offers; a task asks for 0.1, so 10 attempts at once per core "
            + "(default ${DEFAULT-VALUE}).")
    int agentCpu;

    @Spec
    CommandSpec spec;

    @Option(names = "--jobs", defaultValue = "2000", description = "Jobs submitted at once (default ${DEFAULT-VALUE}).")
    int jobs;

    @Option(names = "--paced-jobs", defaultValue = "500", description = "Jobs submitted at half the measured rate, for latency (default ${DEFAULT-VALUE}).")
    int pacedJobs;

    @Option(names = "--warm-up-rounds", defaultValue = "20", description = "At most this many rounds of 400 jobs before the measured ones, "
            + "ending when two rounds in a row are each within 5 %% of the one before; 0 measures a cold broker (default ${DEFAULT-VALUE}).")
    int warmUpRounds;

    @Option(names = "--broker-jvm-options", description = "JVM options of the broker (default -Xmx1g), e.g. to record a profile.")
    String brokerJvmOptions = "-Xmx1g";

    @Option(names = "--keep-data", description = "Keep the run's data directory (broker and agent logs, database) and print where it is.")
    boolean keepData;

    /** Attempts each agent runs at once: its cpus over the jobs' 100 millicpus. */
    private int slotsPerAgent() {
        return agentCpu * 1000 / TASK_MILLICPUS;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean insecure = ((Spillway) spec.root().userObject()).insecure;
        Path dir = Files.createTempDirectory("spillway-bench-e2e-");
        Spawns loop = rawSpawnRate(Math.max(400, jobs / 4), 1, dir.resolve("raw"));
        Spawns parallel = rawSpawnRate(Math.max(400, jobs / 4), AGENTS, dir.resolve("raw"));
        double raw = loop.perSecond();
        double rawParallel = parallel.perSecond();
        out.printf(Locale.ROOT, "raw spawn rate: %.0f processes/s in one loop using %.2f cores, %.0f on %d threads using %.2f of the machine's %d "
                        + "(/bin/true started as the agents start an attempt's process, piped and waited for)%n", raw, loop.cores(), rawParallel,
                AGENTS, parallel.cores(), Runtime.getRuntime().availableProcessors());
        double agentsAlone = agentSpawnRate(dir.resolve("spawn"), Math.max(400, jobs / 4));
        out.printf(Locale.ROOT, "the agents' own attempt path, no broker: %.1f attempts/s (%d agent processes, %d at once each)%n", agentsAlone,
                AGENTS, slotsPerAgent());
        try (LocalCluster cluster = SubmitBenchmark.cluster(dir, AGENTS, insecure, String.valueOf(agentCpu), "8Gi", java.util.Map.of(),
                brokerJvmOptions)) {
            ManagedChannel channel = cluster.channel();
            try {
                var stub = JobServiceGrpc.newFutureStub(channel);
                var blocking = JobServiceGrpc.newBlockingStub(channel);
                warmUp(stub, blocking, out);
                Phase all = run(stub, blocking, jobs, 0, out);
                out.printf(Locale.ROOT, "%d jobs at once: %.1f completed tasks/s (%.0f %% of the raw spawn rate, %.0f %% of it on %d threads, "
                                + "%.0f %% of the agents' own path), submission to finish p50 %.0f ms, p99 %.0f ms%n", jobs, all.tasksPerSecond(),
                        100 * all.tasksPerSecond() / raw, 100 * all.tasksPerSecond() / rawParallel, AGENTS,
                        100 * all.tasksPerSecond() / agentsAlone, all.p50Millis(), all.p99Millis());
                double pace = all.tasksPerSecond() / 2;
                Phase paced = run(stub, blocking, pacedJobs, pace, out);
                out.printf(Locale.ROOT, "%d jobs paced at %.1f/s: submission to finish p50 %.0f ms, p99 %.0f ms%n", pacedJobs, pace,
                        paced.p50Millis(), paced.p99Millis());
                out.println(String.format(Locale.ROOT,
                        "RESULT e2e jobs=%d agents=%d tasks_per_sec=%.1f raw_spawn_per_sec=%.1f ratio=%.2f raw_parallel_per_sec=%.1f ratio_parallel=%.2f "
                                + "raw_cores=%.2f raw_parallel_cores=%.2f "
                                + "agent_path_per_sec=%.1f ratio_to_agent_path=%.2f "
                                + "saturated_p50_ms=%.0f saturated_p99_ms=%.0f paced_per_sec=%.1f paced_p50_ms=%.0f paced_p99_ms=%.0f",
                        jobs, AGENTS, all.tasksPerSecond(), raw, all.tasksPerSecond() / raw, rawParallel, all.tasksPerSecond() / rawParallel,
                        loop.cores(), parallel.cores(), agentsAlone, all.tasksPerSecond() / agentsAlone,
                        all.p50Millis(), all.p99Millis(), pace, paced.p50Millis(), paced.p99Millis()));
                out.flush();
            } finally {
                Spillway.close(channel);
            }
        } finally {
            SubmitBenchmark.keepOrDelete(dir, keepData, out);
        }
        return Spillway.OK;
    }

    /**
     * Runs rounds of jobs until the rate settles: the broker's JIT compiler took a quarter of a core
     * all through a measured phase that followed a warm-up of 400 jobs, and a broker runs for days,
     * so the figure that describes it is the warm one. One steady round was not enough: after six
     * rounds (2,400 jobs, 30 s) the broker still compiled a hundred methods with C2 every 5 s, a
     * tenth of the machine. Each round's rate is printed, the first being the cold one.
     */
    private void warmUp(JobServiceGrpc.JobServiceFutureStub stub, JobServiceGrpc.JobServiceBlockingStub blocking, PrintWriter out)
            throws Exception {
        List<String> rates = new ArrayList<>();
        double previous = 0;
        int steady = 0;
        PrintWriter quiet = new PrintWriter(java.io.Writer.nullWriter());
        for (int i = 0; i < warmUpRounds; i++) {
            double rate = run(stub, blocking, WARM_UP_ROUND, 0, quiet).tasksPerSecond();
            rates.add(String.format(Locale.ROOT, "%.1f", rate));
            steady = i > 0 && Math.abs(rate - previous) <= 0.05 * previous ? steady + 1 : 0;
            if (steady == 2) break;
            previous = rate;
        }
        if (!rates.isEmpty()) {
            out.printf(Locale.ROOT, "warm-up: %d rounds of %d jobs, tasks/s %s%n", rates.size(), WARM_UP_ROUND, String.join(", ", rates));
        }
    }

    /** One phase: how fast {@code count} jobs went through, and each one's submission-to-finish time. */
    record Phase(double tasksPerSecond, Histogram latencyMicros) {
        double p50Millis() {
            return latencyMicros.getValueAtPercentile(50) / 1000.0;
        }

        double p99Millis() {
            return latencyMicros.getValueAtPercentile(99) / 1000.0;
        }
    }

    /**
     * Submits {@code count} jobs (all at once, 32 in flight, or {@code perSecond} a second) labelled
     * with a fresh run id, waits until every one has finished, and reads their create and finish
     * times back.
     */
    private static Phase run(JobServiceGrpc.JobServiceFutureStub stub, JobServiceGrpc.JobServiceBlockingStub blocking, int count,
                             double perSecond, PrintWriter out) throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        SubmitJobRequest request = SubmitJobRequest.newBuilder().setSpec(JobSpec.newBuilder().setName("bench-e2e").putLabels("bench-run", run)
                .setTaskCount(1).setTask(TaskTemplate.newBuilder().addCommand("true").setResources(Resources.newBuilder().setCpuMillis(TASK_MILLICPUS)
                        .setMemoryMib(32)))).build();
        Semaphore window = new Semaphore(32);
        List<ListenableFuture<Job>> calls = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            if (perSecond > 0) {
                long due = start + (long) (i * 1e9 / perSecond);
                long wait = due - System.nanoTime();
                if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait); // an open-loop arrival schedule, not synchronisation
            }
            window.acquire();
            ListenableFuture<Job> call = stub.submitJob(request);
            call.addListener(window::release, Runnable::run);
            calls.add(call);
        }
        for (Future<Job> c : calls) c.get(60, TimeUnit.SECONDS);
        List<Job> finished = awaitFinished(blocking, run, count);
        Histogram latency = new Histogram(3_600_000_000L, 3);
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        int failed = 0;
        for (Job j : finished) {
            long created = micros(j.getCreateTime());
            long done = micros(j.getFinishTime());
            first = Math.min(first, created);
            last = Math.max(last, done);
            latency.recordValue(Math.max(0, done - created));
            if (j.getState() != JobState.JOB_STATE_SUCCEEDED) failed++;
        }
        if (failed > 0) out.printf("%d of %d jobs did not succeed%n", failed, count);
        // Where the time went, by the broker's timestamps of each job's task.
        Histogram queued = new Histogram(3_600_000_000L, 3);
        Histogram starting = new Histogram(3_600_000_000L, 3);
        Histogram running = new Histogram(3_600_000_000L, 3);
        for (Job j : finished) {
            var t = JobCommands.tasks(blocking, j.getUid(), 1, List.of()).get(0);
            queued.recordValue(Math.max(0, micros(t.getAssignTime()) - micros(j.getCreateTime())));
            starting.recordValue(Math.max(0, micros(t.getStartTime()) - micros(t.getAssignTime())));
            running.recordValue(Math.max(0, micros(t.getFinishTime()) - micros(t.getStartTime())));
        }
        out.printf(Locale.ROOT, "  median: submitted to placed %.0f ms, placed to started %.0f ms, started to ended %.0f ms%n",
                queued.getValueAtPercentile(50) / 1000.0, starting.getValueAtPercentile(50) / 1000.0, running.getValueAtPercentile(50) / 1000.0);
        return new Phase(count / ((last - first) / 1e6), latency);
    }

    /**
     * Waits until no job of the run is queued or running (asking for one such job, not reading them
     * all: the broker's work for the question must not grow with the run), then reads them all.
     */
    private static List<Job> awaitFinished(JobServiceGrpc.JobServiceBlockingStub jobs, String run, int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (jobs.listJobs(ListJobsRequest.newBuilder().setPageSize(1)
                .setFilter("labels.bench-run = \"" + run + "\"" + " AND (state = QUEUED OR state = RUNNING)").build()).getJobsCount() > 0) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("jobs of the run still unfinished after 10 minutes");
            Thread.sleep(200);
        }
        List<Job> all = new ArrayList<>();
        String token = "";
        do {
            ListJobsResponse page = jobs.listJobs(ListJobsRequest.newBuilder().setFilter("labels.bench-run = \"" + run + "\"").setPageSize(1000).setPageToken(token).build());
            all.addAll(page.getJobsList());
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        if (all.size() != count) throw new IllegalStateException(all.size() + " jobs of the run are stored, " + count + " were submitted");
        return all;
    }

    /**
     * Attempts per second the agents' own attempt path manages with no broker: {@link #AGENTS}
     * processes of {@code dev.spillway.agent.SpawnBenchmark} at once, each running its share of
     * {@code total} with {@link #slotsPerAgent} at a time, as the agents of the run will.
     */
    private double agentSpawnRate(Path work, int total) throws Exception {
        Path jar = Path.of(System.getProperty("spillway.home", ".")).resolve("on-prem-agent/target/spillway-agent.jar");
        String javaCommand = ProcessHandle.current().info().command().orElse("java");
        List<Process> runs = new ArrayList<>();
        for (int i = 0; i < AGENTS; i++) {
            Path dir = Files.createDirectories(work.resolve("agent-" + i));
            runs.add(new ProcessBuilder(javaCommand, "-cp", jar.toString(), "dev.spillway.agent.SpawnBenchmark", String.valueOf(total / AGENTS),
                    String.valueOf(slotsPerAgent()), dir.toString()).redirectErrorStream(true).start());
        }
        double sum = 0;
        for (Process p : runs) {
            String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (p.waitFor() != 0) throw new IllegalStateException("the agent spawn benchmark failed: " + output);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("RESULT spawn .* per_sec=([0-9.]+)").matcher(output);
            if (!m.find()) throw new IllegalStateException("no result from the agent spawn benchmark: " + output);
            sum += Double.parseDouble(m.group(1));
        }
        return sum;
    }

    private static long micros(com.google.protobuf.Timestamp t) {
        return t.getSeconds() * 1_000_000 + t.getNanos() / 1000;
    }

    /**
     * Processes started and waited for per second, {@code total} of them on {@code threads}
     * threads, by a JVM that spawns as the agents do ({@code SpawnBenchmark --raw} from the agent
     * jar: vfork, which is much cheaper than the JDK's default, and the agents' launcher, installed
     * in {@code work}).
     */
    /** A raw spawn loop's rate, and the CPU it used (its JVM and the processes it started), in cores. */
    record Spawns(double perSecond, double cores) {
    }

    static Spawns rawSpawnRate(int total, int threads, Path work) throws Exception {
        Path jar = Path.of(System.getProperty("spillway.home", ".")).resolve("on-prem-agent/target/spillway-agent.jar");
        String javaCommand = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(javaCommand, "-cp", jar.toString(), "dev.spillway.agent.SpawnBenchmark", "--raw", String.valueOf(total),
                String.valueOf(threads), work.toString()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IllegalStateException("the raw spawn benchmark failed: " + output);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("RESULT spawn_raw .* per_sec=([0-9.]+) cores=([0-9.]+|NaN)").matcher(output);
        if (!m.find()) throw new IllegalStateException("no result from the raw spawn benchmark: " + output);
        return new Spawns(Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2)));
    }
}
