package dev.spillway.broker.api;

import com.google.protobuf.Timestamp;
import dev.spillway.api.ResourceNames;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.CloudPoolStatus;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobQuote;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.Node;
import dev.spillway.api.v1.NodeState;
import dev.spillway.api.v1.Pool;
import dev.spillway.api.v1.PoolKind;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobResponse;
import dev.spillway.broker.burst.BurstStatus;
import dev.spillway.broker.cluster.ClusterView;
import dev.spillway.broker.jobs.JobQueries;
import dev.spillway.broker.store.InstanceStore;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.scheduling.Resources;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Domain views and store rows to spillway.v1 messages, and request filters to domain ones. */
public final class ProtoMapping {

    private ProtoMapping() {}

    public static Timestamp timestamp(OffsetDateTime t) {
        return Timestamp.newBuilder().setSeconds(t.toEpochSecond()).setNanos(t.getNano()).build();
    }

    public static Timestamp timestamp(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }

    public static JobState jobState(dev.spillway.core.lifecycle.JobState s) {
        return JobState.valueOf("JOB_STATE_" + s.name());
    }

    static TaskState taskState(dev.spillway.core.task.TaskState s) {
        return TaskState.valueOf("TASK_STATE_" + s.name());
    }

    public static Job job(JobQueries.JobView v) {
        JobStore.JobRow row = v.job();
        Job.Builder b = Job.newBuilder()
                .setName(ResourceNames.job(row.id()))
                .setUid(row.id().toString())
                .setSpec(dev.spillway.broker.security.SecretBox.redacted(row.spec()))
                .setState(jobState(row.state()))
                .setCreateTime(timestamp(row.createdAt()));
        // Keyed by the TaskState value's name, as the API documents.
        v.taskCounts().forEach((state, n) -> b.putTaskCounts("TASK_STATE_" + state, n));
        if (row.finishedAt() != null) b.setFinishTime(timestamp(row.finishedAt()));
        if (v.pendingReason() != null && row.finishedAt() == null) b.setPendingReason(v.pendingReason());
        if (row.quote() != null) b.setQuote(quote(row.quote()));
        return b.build();
    }

    static JobQuote quote(JobStore.Quote q) {
        JobQuote.Builder b = JobQuote.newBuilder();
        if (q.expectedMicroUsd() != null) b.setExpectedCost(Usd.ofMicros(q.expectedMicroUsd()));
        if (q.notToExceedMicroUsd() != null) b.setNotToExceedCost(Usd.ofMicros(q.notToExceedMicroUsd()));
        if (q.unbounded() != null) b.setUnboundedReason(q.unbounded());
        return b.build();
    }

    public static dev.spillway.api.v1.ListTasksResponse listTasksResponse(UUID job, JobQueries.TaskPage page) {
        return dev.spillway.api.v1.ListTasksResponse.newBuilder().addAllTasks(page.tasks().stream().map(t -> task(job, t)).toList())
                .setNextPageToken(page.nextPageToken()).build();
    }

    public static ListJobsResponse listJobsResponse(JobQueries.JobPage page) {
        return ListJobsResponse.newBuilder().addAllJobs(page.jobs().stream().map(ProtoMapping::job).toList())
                .setNextPageToken(page.nextPageToken()).build();
    }

    public static Task task(UUID job, JobStore.TaskRow row) {
        Task.Builder b = Task.newBuilder()
                .setName(ResourceNames.task(job, row.index()))
                .setIndex(row.index())
                .setState(taskState(row.state()))
                .setAttempt(row.attempt())
                .setReason(reason(row.reason()))
                .setMessage(row.message())
                .setFailures(row.failures());
        if (row.node() != null) b.setNode(row.node());
        if (row.exitCode() != null) b.setExitCode(row.exitCode());
        if (row.cpuTimeMillis() != null) b.setCpuTimeMillis(row.cpuTimeMillis());
        if (row.peakMemoryMib() != null) b.setPeakMemoryMib(row.peakMemoryMib());
        if (row.assignedAt() != null) b.setAssignTime(timestamp(row.assignedAt()));
        if (row.startedAt() != null) b.setStartTime(timestamp(row.startedAt()));
        if (row.finishedAt() != null) b.setFinishTime(timestamp(row.finishedAt()));
        return b.build();
    }

    /** A stored reason code ({@code node_lost}) as the API's enum; one this version does not know is UNSPECIFIED. */
    public static dev.spillway.api.v1.Reason reason(String code) {
        dev.spillway.core.lifecycle.ReasonCode r = dev.spillway.core.lifecycle.ReasonCode.fromCode(code);
        return r == null ? dev.spillway.api.v1.Reason.REASON_UNSPECIFIED : reason(r);
    }

    public static dev.spillway.api.v1.Reason reason(dev.spillway.core.lifecycle.ReasonCode r) {
        return dev.spillway.api.v1.Reason.valueOf("REASON_" + r.name());
    }

    public static WatchJobResponse event(UUID job, JobStore.EventRow e, JobState jobState) {
        WatchJobResponse.Builder b = WatchJobResponse.newBuilder()
                .setSequence(e.seq())
                .setTime(timestamp(e.at()))
                .setTask(ResourceNames.task(job, e.index()))
                .setTaskIndex(e.index())
                .setAttempt(e.attempt())
                .setState(taskState(e.state()))
                .setReason(reason(e.reason()))
                .setMessage(e.message())
                .setJobState(jobState);
        if (e.node() != null) b.setNode(e.node());
        return b.build();
    }

    public static dev.spillway.api.v1.Resources resources(Resources r) {
        return dev.spillway.api.v1.Resources.newBuilder().setCpuMillis(r.cpuMillis()).setMemoryMib(r.memoryMib()).setGpus(r.gpus()).build();
    }

    public static Node node(ClusterView.NodeView n) {
        return Node.newBuilder()
                .setName(ResourceNames.node(n.name()))
                .setUid(n.id().toString())
                .setPool(n.pool())
                .setState(NodeState.valueOf("NODE_STATE_" + n.state().name()))
                .setCapacity(resources(n.capacity()))
                .setAllocated(resources(n.allocated()))
                .putAllLabels(n.labels())
                .setLastSeenTime(timestamp(n.lastSeenAt()))
                .setRunningTasks(n.runningTasks())
                .setAgentVersion(n.agentVersion())
                .build();
    }

    public static Pool pool(ClusterView.PoolView p, BurstStatus.PoolStatus cloud, dev.spillway.core.scheduling.Waiting.Demand waiting) {
        Pool.Builder b = Pool.newBuilder().setName(ResourceNames.pool(p.name())).setKind(poolKind(p.kind())).setReadyNodes(p.readyNodes())
                .setCapacity(resources(p.capacity())).setAllocated(resources(p.allocated())).setRunningTasks(p.runningTasks())
                .setWaitingTasks(waiting.tasks()).setWaiting(resources(waiting.requested()));
        if (cloud != null) {
            b.setCloud(CloudPoolStatus.newBuilder()
                    .setOfferings(cloud.usableOfferings())
                    .setInstances(cloud.instances())
                    .setMaxNodes(cloud.maxNodes())
                    .setSpendPerHour(Usd.of(cloud.spendUsdPerHour()))
                    .setStatus(cloud.status()));
            if (cloud.cheapestUsdPerHour() > 0) b.getCloudBuilder().setCheapestPricePerHour(Usd.of(cloud.cheapestUsdPerHour()));
            if (cloud.maxSpendUsdPerHour() > 0) b.getCloudBuilder().setMaxSpendPerHour(Usd.of(cloud.maxSpendUsdPerHour()));
        }
        return b.build();
    }

    /** A pool's kind as configured ({@code on-prem}, {@code local}, {@code aws}, {@code azure}). */
    static PoolKind poolKind(String kind) {
        return switch (kind) {
            case "on-prem" -> PoolKind.POOL_KIND_ON_PREM;
            case "local" -> PoolKind.POOL_KIND_LOCAL;
            case "aws" -> PoolKind.POOL_KIND_AWS;
            case "azure" -> PoolKind.POOL_KIND_AZURE;
            default -> PoolKind.POOL_KIND_UNSPECIFIED;
        };
    }

    public static CloudInstance instance(InstanceStore.InstanceRow r, Instant now) {
        CloudInstance.Builder i = CloudInstance.newBuilder().setName(ResourceNames.instance(r.pool(), r.id())).setUid(r.id().toString())
                .setPool(r.pool()).setNode(r.nodeName()).setInstanceType(r.instanceType()).setRegion(r.region()).setZone(r.zone())
                .setSpot(r.spot()).setPricePerHour(Usd.of(r.priceUsdPerHour()))
                .setState(dev.spillway.api.v1.InstanceState.valueOf("INSTANCE_STATE_" + r.state().name())).setReason(r.reason())
                .setReasonCode(r.reasonCode() == null ? dev.spillway.api.v1.Reason.REASON_UNSPECIFIED : reason(r.reasonCode()))
                .setDecision(r.decision())
                .setCost(Usd.of(r.costUsd(now))).setRequestTime(timestamp(r.requestedAt()));
        if (r.providerInstance() != null) i.setProviderInstanceId(r.providerInstance());
        if (r.launchedAt() != null) i.setLaunchTime(timestamp(r.launchedAt()));
        if (r.joinedAt() != null) i.setJoinTime(timestamp(r.joinedAt()));
        if (r.terminatedAt() != null) i.setTerminateTime(timestamp(r.terminatedAt()));
        return i.build();
    }
}
