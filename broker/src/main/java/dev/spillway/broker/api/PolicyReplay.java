package dev.spillway.broker.api;

import com.google.protobuf.Duration;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.SwfWorkload;
import dev.spillway.api.v1.WhatIfResponse;
import dev.spillway.api.v1.WhatIfSide;
import dev.spillway.api.v1.WhatIfTenant;
import dev.spillway.api.v1.WhatIfTenantSide;
import dev.spillway.broker.agents.AgentSession;
import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.burst.CloudPool;
import dev.spillway.broker.burst.CloudPools;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.TooManyRequests;
import dev.spillway.broker.policy.Policies;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.WorkloadHistory;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.sim.Simulation;
import dev.spillway.core.sim.SwfTrace;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.whatif.WhatIf;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Semaphore;

/**
 * {@code policy what-if}: a workload (history or an SWF trace) replayed on this broker's cluster
 * under the set in force and a candidate ({@link WhatIf}). CPU work: call it off the event loop.
 * One replay at a time, so a what-if cannot take the cores the scheduler needs.
 */
@ApplicationScoped
class PolicyReplay {

    /** How long an instance takes from launch to its agent joining, in the replay. */
    static final java.time.Duration BOOT_MIN = java.time.Duration.ofSeconds(60);
    static final java.time.Duration BOOT_MAX = java.time.Duration.ofSeconds(90);
    /** Most queued tasks a replayed cycle considers. */
    static final int TASKS_PER_CYCLE = 2000;
    /** Most jobs of the history one replay takes. */
    static final int MAX_JOBS = 200_000;
    /** Longest history a replay reads. */
    static final java.time.Duration MAX_SINCE = java.time.Duration.ofDays(90);

    private final AgentSessions sessions;
    private final CloudPools cloud;
    private final BrokerConfig config;
    private final Semaphore one = new Semaphore(1);

    PolicyReplay(AgentSessions sessions, CloudPools cloud, BrokerConfig config) {
        this.sessions = sessions;
        this.cloud = cloud;
        this.config = config;
    }

    /** A workload and what building it skipped. */
    record Workload(List<WhatIf.WorkloadJob> jobs, int skippedLines, List<String> notes) {
    }

    /** The trace's jobs; INVALID_ARGUMENT when it has none that can be read. */
    static Workload fromTrace(SwfWorkload trace) {
        WhatIf.TenantBy by;
        try {
            by = trace.getTenantBy().isEmpty() ? WhatIf.TenantBy.USER : WhatIf.TenantBy.valueOf(trace.getTenantBy().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw InvalidRequest.of("trace.tenant_by", "user, group or queue, not '" + trace.getTenantBy() + "'");
        }
        if (trace.getTaskMemoryMib() < 0) throw InvalidRequest.of("trace.task_memory_mib", "must not be negative");
        if (trace.getSpeedup() < 0 || Double.isNaN(trace.getSpeedup()) || Double.isInfinite(trace.getSpeedup())) {
            throw InvalidRequest.of("trace.speedup", "a positive number (0: 1)");
        }
        SwfTrace.Trace parsed = SwfTrace.parse(trace.getText());
        if (parsed.jobs().isEmpty()) {
            throw InvalidRequest.of("trace.text", "no job line could be read" + (parsed.problems().isEmpty() ? ""
                    : " (" + parsed.problems().size() + " skipped; the first: " + parsed.problems().get(0) + ")"));
        }
        var mapping = new WhatIf.TraceMapping(by, trace.getTaskMemoryMib() == 0 ? 1024 : trace.getTaskMemoryMib(), trace.getSpotTolerant(),
                trace.getSpeedup() == 0 ? 1 : trace.getSpeedup());
        List<String> notes = new ArrayList<>();
        if (!parsed.problems().isEmpty()) notes.add(parsed.problems().size() + " trace line(s) skipped, the first: " + parsed.problems().get(0));
        return new Workload(WhatIf.fromTrace(parsed.jobs(), mapping), parsed.problems().size(), notes);
    }

    /** The recorded jobs, arrival times from the first; jobs none of whose tasks ever started are left out (their run time is unknown). */
    static Workload fromHistory(List<WorkloadHistory.PastJob> past, boolean truncated) {
        List<WhatIf.WorkloadJob> jobs = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        int neverStarted = 0;
        Instant first = past.isEmpty() ? Instant.EPOCH : past.get(0).submittedAt();
        for (WorkloadHistory.PastJob p : past) {
            if (p.meanRunMillis() < 0) {
                neverStarted++;
                continue;
            }
            JobSpec spec = p.spec();
            jobs.add(new WhatIf.WorkloadJob(p.id().toString(), java.time.Duration.between(first, p.submittedAt()).toMillis(), p.meanRunMillis(),
                    JobCatalog.shapeOf(spec), Policies.jobFacts(spec)));
        }
        if (past.isEmpty()) notes.add("no job was submitted in the period: nothing to replay");
        if (neverStarted > 0) notes.add(neverStarted + " job(s) none of whose tasks ever started are left out: their run time is unknown");
        if (truncated) notes.add("only the first " + MAX_JOBS + " jobs of the period are replayed");
        return new Workload(jobs, 0, notes);
    }

    /** Blocking and CPU-heavy: call off the event loop. */
    WhatIfResponse run(Policies.InForce current, PolicySet candidate, Workload workload) {
        if (!one.tryAcquire()) throw new TooManyRequests(dev.spillway.api.v1.ErrorReason.ERROR_REASON_BUSY, "another what-if replay is running on this broker; try again when it is done", null);
        try {
            long t0 = System.nanoTime();
            String version = current.set() == null ? "none" : "v" + current.version();
            WhatIf.Report r = WhatIf.compare(current.set(), version, candidate, cluster(), workload.jobs(),
                    Simulation.Settings.replay(config.burstInterval(), TASKS_PER_CYCLE, 1), config.scheduler().candidateLimit());
            long nanos = System.nanoTime() - t0;
            WhatIfResponse.Builder out = WhatIfResponse.newBuilder().setJobs(r.jobs()).setTasks(r.tasks())
                    .setCurrent(side(r.current())).setCandidate(side(r.candidate())).addAllDifferences(r.differences())
                    .setSkippedLines(workload.skippedLines()).addAllNotes(workload.notes()).addAllNotes(NOTES)
                    .setElapsed(Duration.newBuilder().setSeconds(nanos / 1_000_000_000).setNanos((int) (nanos % 1_000_000_000)));
            for (WhatIf.TenantRow t : r.tenants()) {
                out.addTenants(WhatIfTenant.newBuilder().setTenant(t.tenant()).setCurrent(tenant(t.current(), t.borrowedCpuMillisCurrent()))
                        .setCandidate(tenant(t.candidate(), t.borrowedCpuMillisCandidate())));
            }
            return out.build();
        } finally {
            one.release();
        }
    }

    static final List<String> NOTES = List.of(
            "the cluster is this broker's connected on-prem nodes, empty at the start, and its cloud pools' offerings; instances join "
                    + BOOT_MIN.toSeconds() + "-" + BOOT_MAX.toSeconds() + " s after launch and are never interrupted",
            "each task runs for its job's mean recorded run time; tasks never fail; quota reclaim by preemption is not replayed");

    /** On-prem nodes as connected now (cloud nodes left out: the replay buys its own), and every cloud pool. */
    private WhatIf.Cluster cluster() {
        List<NodeView> nodes = new ArrayList<>();
        for (AgentSession s : sessions.connected()) {
            NodeView v = s.view(Resources.ZERO, false);
            if ("true".equals(v.labels().get(Scorers.CLOUD_LABEL))) continue;
            nodes.add(v);
        }
        List<Simulation.CloudPool> pools = new ArrayList<>();
        for (CloudPool p : cloud.all().values()) {
            if (p.offerings().isEmpty()) continue;
            pools.add(new Simulation.CloudPool(p.spec(), p.offerings(), BOOT_MIN, BOOT_MAX));
        }
        return new WhatIf.Cluster(nodes, pools, Policies.poolFacts(config));
    }

    private static WhatIfSide side(WhatIf.Side s) {
        Simulation.Result r = s.result();
        WhatIfSide.Builder b = WhatIfSide.newBuilder().setPolicyVersion(s.policyVersion()).setRefusedJobs(r.refusedJobs()).setTasksRun(r.tasks())
                .setTasksNeverPlaced(r.neverPlaced()).setMeanWaitSeconds(r.meanWaitSeconds()).setP95WaitSeconds(r.p95WaitSeconds())
                .setCloudCost(Usd.of(r.cloudCostUsd())).setInstances(r.instances()).putAllTasksByPool(r.tasksByPool())
                .setResidencyViolations(s.residencyViolations()).addAllResidencyViolationExamples(s.violationExamples());
        r.waitReasons().forEach(b::putWaitReasons);
        r.launchesByType().forEach(b::putLaunchesByType);
        return b.build();
    }

    private static java.util.Map<String, com.google.type.Money> byPool(java.util.Map<String, Double> dollars) {
        java.util.Map<String, com.google.type.Money> out = new java.util.TreeMap<>();
        dollars.forEach((pool, usd) -> out.put(pool, Usd.of(usd)));
        return out;
    }

    private static WhatIfTenantSide tenant(Simulation.TenantResult t, long borrowedCpuMillis) {
        return WhatIfTenantSide.newBuilder().setJobs(t.jobs()).setRefused(t.refused()).setTasks(t.tasks()).setDeferredTasks(t.deferredTasks())
                .setMeanWaitSeconds(t.meanWaitSeconds()).setP95WaitSeconds(t.p95WaitSeconds()).setCloudCost(Usd.of(t.cloudCostUsd()))
                .putAllCloudCostByPool(byPool(t.cloudCostByPool())).setPeakBorrowedCpu(borrowedCpuMillis / 1000.0).build();
    }
}
