package dev.spillway.cli;

import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.TaskTemplate;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A new job's way through a deep queue: a fresh broker (embedded PostgreSQL) and one agent; a
 * blocker job takes most of the agent; then 1,000,000 queued tasks (ten jobs of 100,000) that
 * need more than is left, so they wait; then small jobs, one at a time, each of which fits in what
 * is left. Measures each small job's time from submission to placement (broker clock: the job's
 * create time to its task's assign time) and the scheduling cycle's time while the million wait.
 */
@Command(name = "queue", description = "Placement latency of a new job and the scheduling cycle time with 1,000,000 tasks queued.")
final class QueueBenchmark implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--queued-jobs", defaultValue = "10", description = "Jobs of --tasks-per-job tasks queued ahead (default ${DEFAULT-VALUE}).")
    int queuedJobs;

    @Option(names = "--tasks-per-job", defaultValue = "100000", description = "Tasks in each queued job (default ${DEFAULT-VALUE}).")
    int tasksPerJob;

    @Option(names = "--probes", defaultValue = "30", description = "Small jobs timed from submission to placement (default ${DEFAULT-VALUE}).")
    int probes;

    @Option(names = "--broker-property", description = "A broker setting for the run, KEY=VALUE (repeatable; e.g. a log level).")
    Map<String, String> brokerProperties = Map.of();

    @Option(names = "--keep-data", description = "Keep the run's data directory (broker and agent logs, database) and print where it is.")
    boolean keepData;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean insecure = ((Spillway) spec.root().userObject()).insecure;
        Path dir = Files.createTempDirectory("spillway-bench-queue-");
        try (LocalCluster cluster = SubmitBenchmark.cluster(dir, 1, insecure, "4", "16Gi", brokerProperties)) {
            ManagedChannel channel = cluster.channel();
            try {
                var jobs = JobServiceGrpc.newBlockingStub(channel);
                // 3 of the agent's 4 cpus taken for the whole run; the queued tasks need 2 cpus each, so none fits in what is left.
                String blocker = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec(3, 1000, "sleep 100000")).build()).getUid();
                awaitRunning(jobs, blocker, 3);
                long submitStart = System.nanoTime();
                List<String> queued = new ArrayList<>();
                for (int i = 0; i < queuedJobs; i++) {
                    queued.add(jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec(tasksPerJob, 2000, "true")).build()).getUid());
                }
                long total = (long) queuedJobs * tasksPerJob;
                out.printf(Locale.ROOT, "queued %,d tasks (%d jobs) in %.1f s; none fits in the agent's free cpu%n", total, queuedJobs,
                        (System.nanoTime() - submitStart) / 1e9);
                Metrics before = Metrics.scrape(cluster);
                Histogram latency = new Histogram(3_600_000_000L, 3);
                for (int i = 0; i < probes + 3; i++) {
                    String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec(1, 500, "true")).build()).getUid();
                    Task task = awaitPlaced(jobs, id);
                    var created = jobs.getJob(GetJobRequest.newBuilder().setName(id).build()).getCreateTime();
                    long micros = (task.getAssignTime().getSeconds() - created.getSeconds()) * 1_000_000
                            + (task.getAssignTime().getNanos() - created.getNanos()) / 1000;
                    if (i >= 3) latency.recordValue(Math.max(0, micros)); // the first few warm the path up
                }
                Metrics after = Metrics.scrape(cluster);
                double cycles = after.cycleCount - before.cycleCount;
                double cycleMs = cycles == 0 ? 0 : (after.cycleSeconds - before.cycleSeconds) / cycles * 1000;
                out.printf(Locale.ROOT, "new job, submission to placement: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d jobs)%n",
                        latency.getValueAtPercentile(50) / 1000.0, latency.getValueAtPercentile(99) / 1000.0, latency.getMaxValue() / 1000.0, probes);
                out.printf(Locale.ROOT, "scheduling cycles meanwhile: %.0f, mean %.1f ms, max %.1f ms; queue depth %,.0f%n", cycles, cycleMs,
                        after.cycleMaxSeconds * 1000, after.queueDepth);
                // No cancellation: the broker, its agent and its database go away with the run's directory.
                out.println(String.format(Locale.ROOT,
                        "RESULT queue queued=%d placement_p50_ms=%.1f placement_p99_ms=%.1f placement_max_ms=%.1f cycle_mean_ms=%.1f cycle_max_ms=%.1f queue_depth=%.0f",
                        total, latency.getValueAtPercentile(50) / 1000.0, latency.getValueAtPercentile(99) / 1000.0, latency.getMaxValue() / 1000.0,
                        cycleMs, after.cycleMaxSeconds * 1000, after.queueDepth));
                out.flush();
            } finally {
                Spillway.close(channel);
            }
        } finally {
            SubmitBenchmark.keepOrDelete(dir, keepData, out);
        }
        return Spillway.OK;
    }

    private static JobSpec spec(int tasks, long cpuMillis, String command) {
        return JobSpec.newBuilder().setName("bench-queue").setTaskCount(tasks)
                .setTask(TaskTemplate.newBuilder().addAllCommand(List.of("/bin/sh", "-c", command))
                        .setResources(Resources.newBuilder().setCpuMillis(cpuMillis).setMemoryMib(64)))
                .build();
    }

    private static void awaitRunning(JobServiceGrpc.JobServiceBlockingStub jobs, String id, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (JobCommands.tasks(jobs, id, n, List.of(TaskState.TASK_STATE_RUNNING)).size() < n) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("the blocker job did not start within 60 s");
            Thread.sleep(50);
        }
    }

    private static Task awaitPlaced(JobServiceGrpc.JobServiceBlockingStub jobs, String id) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            Task t = JobCommands.tasks(jobs, id, 1, List.of()).get(0);
            if (t.hasAssignTime()) return t;
            if (System.nanoTime() > deadline) throw new IllegalStateException("job " + id + " was not placed within 60 s");
            Thread.sleep(5);
        }
    }

    /** The broker's scheduling-cycle timer and queue depth, read from its Prometheus endpoint. */
    record Metrics(double cycleCount, double cycleSeconds, double cycleMaxSeconds, double queueDepth) {

        private static final Map<String, Pattern> NAMES = Map.of(
                "count", Pattern.compile("(?m)^spillway_scheduling_cycle_seconds_count(?:\\{[^}]*})? ([0-9.eE+-]+)$"),
                "sum", Pattern.compile("(?m)^spillway_scheduling_cycle_seconds_sum(?:\\{[^}]*})? ([0-9.eE+-]+)$"),
                "max", Pattern.compile("(?m)^spillway_scheduling_cycle_seconds_max(?:\\{[^}]*})? ([0-9.eE+-]+)$"),
                "depth", Pattern.compile("(?m)^spillway_queue_depth(?:\\{[^}]*})? ([0-9.eE+-]+)$"));

        static Metrics scrape(LocalCluster cluster) throws Exception {
            HttpResponse<String> r = cluster.tls().httpClient().build().send(HttpRequest.newBuilder(cluster.tls().url(cluster.brokerAddress(), "/q/metrics"))
                    .header("Authorization", "Bearer " + cluster.adminKey()).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new IllegalStateException("metrics: HTTP " + r.statusCode());
            return new Metrics(value(r.body(), "count"), value(r.body(), "sum"), value(r.body(), "max"), value(r.body(), "depth"));
        }

        private static double value(String body, String name) {
            Matcher m = NAMES.get(name).matcher(body);
            return m.find() ? Double.parseDouble(m.group(1)) : 0;
        }
    }
}
