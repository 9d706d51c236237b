package dev.spillway.bench;

import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The scheduling core alone, one thread: a seeded cluster of heterogeneous nodes (cpu, memory,
 * gpus, zone/disk/arch labels, two pools, partly busy) and a queue of task arrays with mixed
 * shapes and constraints. Reports placements per second over whole cycles and the per-task
 * decision time.
 */
@Command(name = "scheduler", description = "The scheduling core alone, one thread: placements/s and decision latency.")
final class SchedulerBenchmark implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--nodes", defaultValue = "10000")
    int nodes;

    @Option(names = "--tasks", defaultValue = "100000")
    int tasks;

    @Option(names = "--rounds", defaultValue = "5", description = "Measured cycles after 3 warm-up cycles.")
    int rounds;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf("scheduler core: %d nodes, %d pending tasks (cpu, memory, gpu, labels, pools), seed 42%n", nodes, tasks);
        Result r = run(nodes, tasks, rounds, out);
        out.println(String.format(Locale.ROOT,
                "RESULT scheduler nodes=%d tasks=%d placed=%d waiting=%d placements_per_sec=%.0f cycle_ms=%.1f decision_p50_us=%.1f decision_p99_us=%.1f decision_max_us=%.1f",
                nodes, tasks, r.placed(), r.unplaced(), r.placementsPerSecond(), r.cycleMillis(), r.p50Micros(), r.p99Micros(), r.maxMicros()));
        out.flush();
        return 0;
    }

    record Result(int placed, int unplaced, double placementsPerSecond, double cycleMillis, double p50Micros, double p99Micros,
                  double maxMicros) {
    }

    static Snapshot snapshot(int nodes, int tasks, int tasksPerJob, long seed) {
        Random random = new Random(seed);
        String[] zones = {"a", "b", "c", "d"};
        List<NodeView> nodeViews = new ArrayList<>(nodes);
        for (int i = 0; i < nodes; i++) {
            int kind = random.nextInt(10);
            Resources cap = kind < 7 ? new Resources(32_000, 128 * 1024, 0)
                    : kind < 9 ? new Resources(64_000, 256 * 1024, 0)
                    : new Resources(16_000, 64 * 1024, 4);
            double busy = random.nextDouble() * 0.5;
            Resources used = new Resources((long) (cap.cpuMillis() * busy) / 500 * 500, (long) (cap.memoryMib() * busy), 0);
            Map<String, String> labels = new HashMap<>();
            labels.put("zone", zones[random.nextInt(zones.length)]);
            labels.put("disk", random.nextInt(3) == 0 ? "ssd" : "hdd");
            labels.put("arch", random.nextInt(5) == 0 ? "arm64" : "x86_64");
            nodeViews.add(new NodeView(String.format("node-%05d", i), i % 2 == 0 ? "dc1" : "dc2", cap, used, labels, random.nextInt(100) != 0));
        }
        long[] cpus = {500, 1000, 2000, 4000, 8000};
        long[] mems = {1024, 2048, 4096, 8192, 16384};
        List<PendingTask> pending = new ArrayList<>(tasks);
        for (int job = 0; pending.size() < tasks; job++) {
            Map<String, String> selector = new HashMap<>();
            int c = random.nextInt(10);
            if (c < 2) selector.put("zone", zones[random.nextInt(zones.length)]);
            else if (c < 3) selector.put("disk", "ssd");
            else if (c < 4) selector.put("arch", "arm64");
            int gpus = random.nextInt(10) == 0 ? 1 + random.nextInt(2) : 0;
            Set<String> pools = random.nextInt(10) == 0 ? Set.of("dc1") : Set.of();
            TaskShape shape = new TaskShape(new Resources(cpus[random.nextInt(cpus.length)], mems[random.nextInt(mems.length)], gpus),
                    selector, pools);
            int priority = random.nextInt(3);
            String jobId = String.format("job-%06d", job);
            for (int t = 0; t < tasksPerJob && pending.size() < tasks; t++) {
                pending.add(new PendingTask(new TaskRef(jobId, t, 0), shape, priority, job));
            }
        }
        return new Snapshot(nodeViews, pending);
    }

    static Result run(int nodes, int tasks, int rounds, PrintWriter log) {
        Snapshot snapshot = snapshot(nodes, tasks, 100, 42);
        Scheduler scheduler = Scheduler.standard();
        for (int i = 0; i < 3; i++) scheduler.plan(snapshot); // warm-up: let the JIT compile the hot path
        Histogram decisions = new Histogram(3_600_000_000_000L, 3);
        long totalNanos = 0;
        Plan plan = null;
        for (int i = 0; i < rounds; i++) {
            long start = System.nanoTime();
            plan = scheduler.plan(snapshot, decisions::recordValue);
            long took = System.nanoTime() - start;
            totalNanos += took;
            log.printf("round %d: %d placed, %d waiting, %.1f ms%n", i + 1, plan.placements().size(), plan.unplaced().size(), took / 1e6);
            log.flush();
        }
        double cycleMillis = totalNanos / 1e6 / rounds;
        return new Result(plan.placements().size(), plan.unplaced().size(), plan.placements().size() / (cycleMillis / 1000),
                cycleMillis, decisions.getValueAtPercentile(50) / 1000.0, decisions.getValueAtPercentile(99) / 1000.0,
                decisions.getMaxValue() / 1000.0);
    }
}
