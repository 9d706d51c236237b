package dev.spillway.broker.grpc;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobResponse;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.scheduling.Resources;
import java.time.OffsetDateTime;
import java.util.Map;

/** Store rows to spillway.v1 messages. */
public final class ProtoMapping {

    private ProtoMapping() {}

    public static Timestamp timestamp(OffsetDateTime t) {
        return Timestamp.newBuilder().setSeconds(t.toEpochSecond()).setNanos(t.getNano()).build();
    }

    public static Job job(JobStore.JobRow row, Map<String, Integer> counts, String pendingReason) {
        Job.Builder b = Job.newBuilder()
                .setJobId(row.id().toString())
                .setSpec(row.spec())
                .setState(JobState.valueOf("JOB_STATE_" + row.state()))
                .setCreateTime(timestamp(row.createdAt()))
                .putAllTaskCounts(counts == null ? Map.of() : counts);
        if (row.finishedAt() != null) b.setFinishTime(timestamp(row.finishedAt()));
        if (pendingReason != null && row.finishedAt() == null) b.setPendingReason(pendingReason);
        return b.build();
    }

    public static Task task(JobStore.TaskRow row) {
        Task.Builder b = Task.newBuilder()
                .setIndex(row.index())
                .setState(TaskState.valueOf("TASK_STATE_" + row.state()))
                .setAttempt(row.attempt())
                .setReason(row.reason())
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

    public static WatchJobResponse event(JobStore.EventRow e, JobState jobState) {
        WatchJobResponse.Builder b = WatchJobResponse.newBuilder()
                .setSequence(e.seq())
                .setTime(timestamp(e.at()))
                .setTaskIndex(e.index())
                .setAttempt(e.attempt())
                .setState(TaskState.valueOf("TASK_STATE_" + e.state()))
                .setReason(e.reason())
                .setMessage(e.message())
                .setJobState(jobState);
        if (e.node() != null) b.setNode(e.node());
        return b.build();
    }

    public static dev.spillway.api.v1.Resources resources(Resources r) {
        return dev.spillway.api.v1.Resources.newBuilder().setCpuMillis(r.cpuMillis()).setMemoryMib(r.memoryMib()).setGpus(r.gpus()).build();
    }
}
