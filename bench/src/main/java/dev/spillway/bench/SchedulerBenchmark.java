package dev.spillway.bench;

import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeSlot;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.scheduling.Veto;
import dev.spillway.policies.quota.CycleQuota;
import dev.spillway.policies.quota.Flavor;
import dev.spillway.policies.quota.Flavors;
import dev.spillway.policies.rules.CompileResult;
import dev.spillway.policies.rules.JobFacts;
import dev.spillway.policies.rules.PlacementContext;
import dev.spillway.policies.rules.PlacementRules;
import dev.spillway.policies.rules.PolicyCompiler;
import dev.spillway.policies.rules.PolicySet;
import java.io.PrintWriter;
import java.time.Instant;
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

    @Option(names = "--rounds", defaultValue = "5", description = "Measured cycles after 3 warm-up cycles (6 with the policy set).")
    int rounds;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf("scheduler core: %d nodes, %d pending tasks (cpu, memory, gpu, labels, pools), seed 42%n", nodes, tasks);
        Result r = run(nodes, tasks, rounds, out);
        out.printf("with a policy set: %d placement filters, %d scorers, %d tenants with quotas in cohorts of 5 (quota kept in plan order)%n",
                POLICY_FILTERS, POLICY_SCORERS, TENANTS);
        Result p = runWithPolicies(nodes, tasks, rounds, out);
        out.println(String.format(Locale.ROOT,
                "RESULT scheduler nodes=%d tasks=%d placed=%d waiting=%d placements_per_sec=%.0f cycle_ms=%.1f decision_p50_us=%.1f decision_p99_us=%.1f decision_max_us=%.1f"
                        + " policy_filters=%d policy_scorers=%d tenants=%d policy_placed=%d policy_placements_per_sec=%.0f policy_cycle_ms=%.1f"
                        + " policy_decision_p50_us=%.1f policy_decision_p99_us=%.1f policy_decision_max_us=%.1f",
                nodes, tasks, r.placed(), r.unplaced(), r.placementsPerSecond(), r.cycleMillis(), r.p50Micros(), r.p99Micros(), r.maxMicros(),
                POLICY_FILTERS, POLICY_SCORERS, TENANTS, p.placed(), p.placementsPerSecond(), p.cycleMillis(), p.p50Micros(), p.p99Micros(),
                p.maxMicros()));
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

    static final int POLICY_FILTERS = 10;
    static final int POLICY_SCORERS = 3;
    static final int TENANTS = 50;
    /** The policy path runs through the CEL interpreter's deep call trees: the JIT needs more cycles than the core alone to settle. */
    static final int WARM_UP_POLICY_CYCLES = 6;

    /**
     * A policy set like one a FinOps team writes: 10 placement filters (one reading a node's free
     * cpu, so evaluated at every check), 3 scorers (one live), and 50 tenants in 10 cohorts with
     * quotas in both pools that bind for some of them.
     */
    static String realisticPolicies() {
        StringBuilder b = new StringBuilder("""
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: placement}
                spec:
                  filters:
                    - name: pii-in-a-or-b
                      match: 'job.labels.?pii.orValue("") == "true" && !(node.labels.?zone.orValue("") in ["a", "b"])'
                      message: '"personal data stays in zones a and b"'
                    - name: gpus-not-on-arm
                      match: job.gpus > 0 && node.labels.?arch.orValue("") == "arm64"
                      message: '"GPU jobs need x86_64"'
                    - name: ssd-for-io
                      match: job.priority < 1 && node.labels.?disk.orValue("") == "ssd" && job.labels.?io.orValue("") != "heavy"
                      message: '"ssd nodes are kept for io-heavy work"'
                    - name: t-07-in-dc1
                      match: job.tenant == "t-07" && node.pool != "dc1"
                      message: '"tenant t-07 runs in dc1"'
                    - name: big-memory-on-big-nodes
                      match: task.memoryMib > 8192 && node.memoryMib < 131072
                      message: '"more than 8 GiB per task needs a 128 GiB node"'
                    - name: keep-headroom
                      match: node.freeCpuMillis - task.cpuMillis < 1000 && job.priority < 2
                      message: '"would leave less than one core free"'
                      veto: Transient
                    - name: t-1x-not-in-zone-d
                      match: job.tenant.startsWith("t-1") && node.labels.?zone.orValue("") == "d"
                      message: '"zone d is not cleared for tenants t-1x"'
                    - name: ml-gpus
                      match: job.labels.?team.orValue("") == "ml" && job.gpus > 0 && node.gpus == 0
                      message: '"ml GPU work needs a GPU node"'
                    - name: datasets-on-ssd
                      match: size(job.datasets) > 0 && node.labels.?disk.orValue("") != "ssd"
                      message: '"dataset readers need ssd"'
                    - name: maintenance
                      match: node.name.endsWith("-00000")
                      message: '"node in maintenance"'
                  scorers:
                    - name: prefer-ssd-for-io
                      score: 'job.labels.?io.orValue("") == "heavy" && node.labels.?disk.orValue("") == "ssd" ? 1.0 : 0.0'
                      weight: 2
                    - name: zone-a
                      score: 'node.labels.?zone.orValue("") == "a" ? 1.0 : 0.5'
                    - name: emptier
                      score: double(node.freeCpuMillis) / double(node.cpuMillis)
                """);
        for (int t = 0; t < TENANTS; t++) {
            b.append(String.format(Locale.ROOT, """
                    ---
                    apiVersion: spillway.dev/v1
                    kind: Tenant
                    metadata: {name: t-%02d}
                    spec:
                      cohort: c-%d
                      weight: %d
                      quotas:
                        - flavor: dc1
                          resources: {cpu: {nominal: "3000", borrowingLimit: "3000"}, memory: {nominal: 8Ti, borrowingLimit: 8Ti}, gpu: {nominal: 40}}
                        - flavor: dc2
                          resources: {cpu: {nominal: "3000", borrowingLimit: "3000"}, memory: {nominal: 8Ti, borrowingLimit: 8Ti}, gpu: {nominal: 40}}
                    """, t, t / 5, 1 + t % 3));
        }
        return b.toString();
    }

    /**
     * The same cluster and queue, with {@link #realisticPolicies}: each job has a tenant and labels,
     * its tasks' shapes carry it (as the broker's do), and each cycle builds the placement rules
     * and the quota, plans, and keeps the placements that fit the quota, as the scheduling loop does.
     */
    static Result runWithPolicies(int nodes, int tasks, int rounds, PrintWriter log) {
        CompileResult compiled = new PolicyCompiler().compile("realistic.yaml", realisticPolicies());
        if (compiled.policySet() == null) throw new IllegalStateException("the benchmark's policy set does not compile: " + compiled.problems());
        PolicySet set = compiled.policySet();
        Snapshot base = snapshot(nodes, tasks, 100, 42);
        Random random = new Random(7);
        Map<String, JobFacts> facts = new HashMap<>();
        Map<String, TaskShape> shapes = new HashMap<>();
        List<PendingTask> pending = new ArrayList<>(base.tasks().size());
        for (PendingTask t : base.tasks()) {
            String job = t.ref().jobId();
            JobFacts f = facts.computeIfAbsent(job, j -> {
                Map<String, String> labels = new HashMap<>();
                if (random.nextInt(20) == 0) labels.put("pii", "true");
                if (random.nextInt(5) == 0) labels.put("io", "heavy");
                if (random.nextInt(10) == 0) labels.put("team", "ml");
                return new JobFacts(j, String.format("t-%02d", random.nextInt(TENANTS)), "", t.priority(), labels, 100, t.shape().request(),
                        List.of(), Set.of(), 0);
            });
            TaskShape shape = shapes.computeIfAbsent(job, j -> t.shape().withFacts(j)); // one instance per job, as the broker makes
            pending.add(new PendingTask(t.ref(), shape, f.priority(), t.queuedAtMillis()));
        }
        Snapshot snapshot = new Snapshot(base.nodes(), pending);
        Map<String, NodeView> nodeOf = new HashMap<>();
        for (NodeView n : base.nodes()) nodeOf.put(n.name(), n);
        Map<String, Flavor> flavors = Flavors.resolve(set.flavorNames(), Map.of("dc1", false, "dc2", false));
        Instant now = Instant.parse("2026-12-02T10:00:00Z");
        for (int i = 0; i < WARM_UP_POLICY_CYCLES; i++) policyCycle(set, facts, flavors, nodeOf, snapshot, now, null); // warm-up
        Histogram decisions = new Histogram(3_600_000_000_000L, 3);
        long totalNanos = 0;
        int kept = 0;
        Plan plan = null;
        for (int i = 0; i < rounds; i++) {
            long start = System.nanoTime();
            PolicyCycle c = policyCycle(set, facts, flavors, nodeOf, snapshot, now, decisions);
            long took = System.nanoTime() - start;
            totalNanos += took;
            plan = c.plan();
            kept = c.kept();
            log.printf("round %d: %d placed (%d kept by quota), %d waiting, %.1f ms%n", i + 1, plan.placements().size(), kept,
                    plan.unplaced().size(), took / 1e6);
            log.flush();
        }
        double cycleMillis = totalNanos / 1e6 / rounds;
        return new Result(kept, plan.unplaced().size() + plan.placements().size() - kept, kept / (cycleMillis / 1000), cycleMillis,
                decisions.getValueAtPercentile(50) / 1000.0, decisions.getValueAtPercentile(99) / 1000.0, decisions.getMaxValue() / 1000.0);
    }

    private record PolicyCycle(Plan plan, int kept) {
    }

    /** One cycle as the broker's scheduling loop runs it with a policy set: rules and quota for the cycle, plan, quota kept in order. */
    private static PolicyCycle policyCycle(PolicySet set, Map<String, JobFacts> facts, Map<String, Flavor> flavors, Map<String, NodeView> nodeOf,
                                           Snapshot snapshot, Instant now, Histogram decisions) {
        PlacementRules rules = set.placement(new PlacementContext(now, s -> facts.get(s.facts()), t -> set.tenantFacts(t, Map.of()), Map.of()));
        CycleQuota quota = new CycleQuota(set.tenantQuotas(), set.flavorOrder(), flavors, List.of(), node -> 0);
        NodeFilter quotaFilter = quota.filter(shape -> facts.get(shape.facts()).tenant(), shape -> facts.get(shape.facts()).priority());
        Scheduler scheduler = Scheduler.standard(8, List.of(rules.filter(), quotaFilter), rules.scorers());
        Plan plan = decisions == null ? scheduler.plan(snapshot) : scheduler.plan(snapshot, decisions::recordValue);
        int kept = 0;
        for (Placement p : plan.placements()) {
            JobFacts job = facts.get(p.task().jobId());
            if (quota.reserve(job.tenant(), job.priority(), nodeOf.get(p.node()), p.request()) == null) kept++;
        }
        return new PolicyCycle(plan, kept);
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
