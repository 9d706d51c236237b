package dev.spillway.policies.whatif;

import dev.spillway.core.burst.BurstDecision;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.sim.Simulation;
import dev.spillway.core.sim.SwfTrace.TraceJob;
import dev.spillway.policies.rules.JobFacts;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.rules.PoolFacts;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What-if replay: one workload through the simulator twice, under the policy set in force and
 * under a candidate, on the same cluster with the same seed, reported side by side. Pure and
 * deterministic: the same inputs give the same report.
 */
public final class WhatIf {

    private WhatIf() {
    }

    /**
     * One job of the workload.
     *
     * @param submitMillis when it arrived, from the start of the workload
     * @param runMillis    how long each of its tasks ran
     * @param shape        its tasks' shape, without facts
     */
    public record WorkloadJob(String id, long submitMillis, long runMillis, TaskShape shape, JobFacts facts) {
    }

    /**
     * The cluster replayed on: on-prem nodes (their allocation ignored) and cloud pools.
     *
     * @param pools what placement rules know of each pool, by name
     */
    public record Cluster(List<NodeView> nodes, List<Simulation.CloudPool> cloud, Map<String, PoolFacts> pools) {
        public Cluster {
            nodes = List.copyOf(nodes);
            cloud = List.copyOf(cloud);
            pools = Map.copyOf(pools);
        }
    }

    /**
     * One replay.
     *
     * @param policyVersion        which set it replayed (e.g. {@code v12}, {@code candidate}, {@code none})
     * @param residencyViolations  placements outside the jurisdictions their job required (must be 0)
     * @param peakBorrowedCpuMillis per tenant with a quota, the most CPU it held beyond its nominal quota
     */
    public record Side(String policyVersion, Simulation.Result result, long residencyViolations, List<String> violationExamples,
                       Map<String, Long> peakBorrowedCpuMillis) {
    }

    /** A tenant's figures in both replays. */
    public record TenantRow(String tenant, Simulation.TenantResult current, Simulation.TenantResult candidate, long borrowedCpuMillisCurrent,
                            long borrowedCpuMillisCandidate) {
    }

    /**
     * @param differences the differences that matter, as sentences (what changed and the reasons given)
     */
    public record Report(int jobs, long tasks, Side current, Side candidate, List<TenantRow> tenants, List<String> differences) {
    }

    /** How trace jobs become Spillway jobs: whose they are, what each task asks for, how fast they arrive. */
    public record TraceMapping(TenantBy tenantBy, long taskMemoryMib, boolean spotTolerant, double speedup) {
        public TraceMapping {
            if (!(speedup > 0) || Double.isInfinite(speedup)) throw new IllegalArgumentException("speedup must be positive, got " + speedup);
            if (taskMemoryMib < 0) throw new IllegalArgumentException("task memory must not be negative");
        }
    }

    /** Which SWF field names a trace job's tenant: {@code user-12}, {@code group-3} or {@code queue-1} ({@code unknown} for -1). */
    public enum TenantBy {
        USER, GROUP, QUEUE;

        String tenantOf(TraceJob job) {
            long v = switch (this) {
                case USER -> job.user();
                case GROUP -> job.group();
                case QUEUE -> job.queue();
            };
            return name().toLowerCase(Locale.ROOT) + "-" + (v < 0 ? "unknown" : Long.toString(v));
        }
    }

    /**
     * A trace's jobs as Spillway jobs: one-cpu tasks of {@code taskMemoryMib} (one per processor),
     * priority 0, the tenant per {@code tenantBy}, labels {@code swf.user}, {@code swf.group} and
     * {@code swf.queue}.
     */
    public static List<WorkloadJob> fromTrace(List<TraceJob> trace, TraceMapping mapping) {
        Resources perTask = new Resources(1000, mapping.taskMemoryMib(), 0);
        TaskShape shape = new TaskShape(perTask, Map.of(), Set.of(), Set.of(), mapping.spotTolerant());
        List<WorkloadJob> out = new ArrayList<>(trace.size());
        for (TraceJob t : trace) {
            String id = String.format(Locale.ROOT, "job-%010d", t.number());
            Map<String, String> labels = Map.of("swf.user", Long.toString(t.user()), "swf.group", Long.toString(t.group()), "swf.queue",
                    Long.toString(t.queue()));
            JobFacts facts = new JobFacts(id, mapping.tenantBy().tenantOf(t), "", 0, labels, t.tasks(), perTask, List.of(), Set.of(), 0);
            out.add(new WorkloadJob(id, Math.round(t.submitSeconds() * 1000 / mapping.speedup()), Math.round(t.runSeconds() * 1000), shape, facts));
        }
        return out;
    }

    /**
     * Replays {@code workload} under {@code current} (null: no policies) and {@code candidate}.
     *
     * @param currentVersion how to name the current set in the report
     */
    public static Report compare(PolicySet current, String currentVersion, PolicySet candidate, Cluster cluster, List<WorkloadJob> workload,
                                 Simulation.Settings settings, int candidateLimit) {
        Side a = replay(current, currentVersion, cluster, workload, settings, candidateLimit);
        Side b = replay(candidate, "candidate", cluster, workload, settings, candidateLimit);
        Set<String> names = new TreeSet<>(a.result().tenants().keySet());
        names.addAll(b.result().tenants().keySet());
        List<TenantRow> rows = new ArrayList<>();
        Simulation.TenantResult none = new Simulation.TenantResult(0, 0, 0, 0, 0, 0, 0, Map.of());
        for (String t : names) {
            rows.add(new TenantRow(t, a.result().tenants().getOrDefault(t, none), b.result().tenants().getOrDefault(t, none),
                    a.peakBorrowedCpuMillis().getOrDefault(t, 0L), b.peakBorrowedCpuMillis().getOrDefault(t, 0L)));
        }
        long tasks = workload.stream().mapToLong(j -> j.facts().tasks()).sum();
        return new Report(workload.size(), tasks, a, b, rows, differences(a, b, rows));
    }

    static Side replay(PolicySet set, String version, Cluster cluster, List<WorkloadJob> workload, Simulation.Settings settings, int candidateLimit) {
        return replay(set, version, cluster, workload, settings, candidateLimit, false);
    }

    /** @param everyTick ask the burst decision at every tick, also while it said it would ask for nothing (for tests) */
    static Side replay(PolicySet set, String version, Cluster cluster, List<WorkloadJob> workload, Simulation.Settings settings, int candidateLimit,
                       boolean everyTick) {
        Map<String, JobFacts> facts = new HashMap<>();
        List<Offering> offerings = new ArrayList<>();
        for (Simulation.CloudPool p : cluster.cloud()) offerings.addAll(p.offerings());
        PolicyRules rules = new PolicyRules(set, candidateLimit, cluster.pools(), facts, offerings);
        boolean byJob = rules.placesByJob();
        List<Simulation.Job> jobs = new ArrayList<>(workload.size());
        for (WorkloadJob w : workload) {
            facts.put(w.id(), w.facts());
            TaskShape shape = byJob ? w.shape().withFacts(w.id()) : w.shape();
            jobs.add(new Simulation.Job(w.id(), w.facts().tenant(), w.facts().priority(), w.submitMillis(), w.facts().tasks(), w.runMillis(), shape));
        }
        Simulation sim = new Simulation(settings, cluster.nodes(), cluster.cloud(), rules, new BurstDecision()::decide);
        if (everyTick) sim.everyTick();
        Simulation.Result r = sim.replay(jobs, line -> { });
        return new Side(version, r, rules.violations(), rules.violationExamples(), Map.copyOf(rules.peakBorrowedCpu()));
    }

    /** What changed, worst first: refusals, residency, spend, waits per tenant, and the reasons jobs waited. */
    static List<String> differences(Side a, Side b, List<TenantRow> rows) {
        List<String> out = new ArrayList<>();
        Simulation.Result ra = a.result(), rb = b.result();
        if (ra.refusedJobs() != rb.refusedJobs()) {
            out.add(String.format(Locale.ROOT, "jobs refused at submission: %d -> %d", ra.refusedJobs(), rb.refusedJobs()));
        }
        if (a.residencyViolations() != b.residencyViolations() || b.residencyViolations() > 0) {
            out.add("residency violations: " + a.residencyViolations() + " -> " + b.residencyViolations());
        }
        if (Math.abs(ra.cloudCostUsd() - rb.cloudCostUsd()) >= 0.005) {
            out.add(String.format(Locale.ROOT, "cloud spend: %.2f -> %.2f USD (%d -> %d instances)", ra.cloudCostUsd(), rb.cloudCostUsd(),
                    ra.instances(), rb.instances()));
        }
        // What the burst decision bought instead: the instance types whose launches changed most.
        Map<String, Integer> launches = new TreeMap<>();
        ra.launchesByType().forEach((type, n) -> launches.merge(type, -n, Integer::sum));
        rb.launchesByType().forEach((type, n) -> launches.merge(type, n, Integer::sum));
        List<String> bought = launches.entrySet().stream().filter(e -> e.getValue() != 0)
                .sorted((p, q) -> Integer.compare(Math.abs(q.getValue()), Math.abs(p.getValue())))
                .limit(5)
                .map(e -> e.getKey() + " " + ra.launchesByType().getOrDefault(e.getKey(), 0) + " -> " + rb.launchesByType().getOrDefault(e.getKey(), 0))
                .toList();
        if (!bought.isEmpty()) out.add("instances launched by type: " + String.join(", ", bought));
        if (Math.abs(ra.meanWaitSeconds() - rb.meanWaitSeconds()) >= 0.5) {
            out.add(String.format(Locale.ROOT, "mean wait: %.0f s -> %.0f s; p95 %.0f s -> %.0f s", ra.meanWaitSeconds(), rb.meanWaitSeconds(),
                    ra.p95WaitSeconds(), rb.p95WaitSeconds()));
        }
        // Tenants: every change in refusals or quota borrowing, and the three largest changes in spend and in mean wait.
        Map<String, List<String>> parts = new TreeMap<>();
        for (TenantRow t : rows) {
            if (t.current().refused() != t.candidate().refused()) {
                parts.computeIfAbsent(t.tenant(), k -> new ArrayList<>()).add("refused " + t.current().refused() + " -> " + t.candidate().refused());
            }
            if (t.borrowedCpuMillisCurrent() != t.borrowedCpuMillisCandidate()) {
                parts.computeIfAbsent(t.tenant(), k -> new ArrayList<>()).add(String.format(Locale.ROOT, "peak borrowed cpu %.1f -> %.1f",
                        t.borrowedCpuMillisCurrent() / 1000.0, t.borrowedCpuMillisCandidate() / 1000.0));
            }
        }
        rows.stream().filter(t -> Math.abs(t.current().cloudCostUsd() - t.candidate().cloudCostUsd()) >= 0.005)
                .sorted((p, q) -> Double.compare(Math.abs(q.candidate().cloudCostUsd() - q.current().cloudCostUsd()),
                        Math.abs(p.candidate().cloudCostUsd() - p.current().cloudCostUsd())))
                .limit(3)
                .forEach(t -> parts.computeIfAbsent(t.tenant(), k -> new ArrayList<>()).add(String.format(Locale.ROOT, "cloud %.2f -> %.2f USD",
                        t.current().cloudCostUsd(), t.candidate().cloudCostUsd())));
        rows.stream().filter(t -> Math.abs(t.current().meanWaitSeconds() - t.candidate().meanWaitSeconds()) >= 0.5)
                .sorted((p, q) -> Double.compare(Math.abs(q.candidate().meanWaitSeconds() - q.current().meanWaitSeconds()),
                        Math.abs(p.candidate().meanWaitSeconds() - p.current().meanWaitSeconds())))
                .limit(3)
                .forEach(t -> parts.computeIfAbsent(t.tenant(), k -> new ArrayList<>()).add(String.format(Locale.ROOT, "mean wait %.0f s -> %.0f s",
                        t.current().meanWaitSeconds(), t.candidate().meanWaitSeconds())));
        parts.forEach((tenant, p) -> out.add("tenant " + (tenant.isEmpty() ? "(none)" : tenant) + ": " + String.join(", ", p)));
        Map<String, Integer> reasons = new LinkedHashMap<>();
        Set<String> all = new TreeSet<>(ra.waitReasons().keySet());
        all.addAll(rb.waitReasons().keySet());
        for (String r : all) {
            int before = ra.waitReasons().getOrDefault(r, 0), after = rb.waitReasons().getOrDefault(r, 0);
            if (before != after) reasons.put(r, after - before);
        }
        // Every change in refusals (they are the rules' own words), then the five largest changes in why jobs waited.
        reasons.forEach((r, delta) -> {
            if (r.startsWith("refused: ")) out.add(String.format(Locale.ROOT, "%+d jobs: %s", delta, r));
        });
        reasons.entrySet().stream()
                .filter(e -> !e.getKey().startsWith("refused: "))
                .sorted((p, q) -> Integer.compare(Math.abs(q.getValue()), Math.abs(p.getValue())))
                .limit(5)
                .forEach(e -> out.add(String.format(Locale.ROOT, "%+d jobs waited: %s", e.getValue(), e.getKey())));
        return out;
    }

    /** Placed tasks by pool in a replay, for reports. */
    public static Map<String, Long> tasksByPool(Side side) {
        return new TreeMap<>(side.result().tasksByPool());
    }
}
