package dev.spillway.broker.agents;

import dev.spillway.api.v1.Assign;
import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.api.v1.JobSpec;
import java.util.UUID;

/** Builds what an agent needs to run one attempt. */
public final class AssignMessages {

    private AssignMessages() {}

    public static ConnectResponse assign(UUID jobId, JobSpec spec, int index, int attempt) {
        var task = spec.getTask();
        return ConnectResponse.newBuilder().setAssign(Assign.newBuilder()
                        .setJobId(jobId.toString())
                        .setTaskIndex(index)
                        .setAttempt(attempt)
                        .addAllCommand(task.getCommandList())
                        .putAllEnv(task.getEnvMap())
                        .putEnv("SPILLWAY_JOB_ID", jobId.toString())
                        .putEnv("SPILLWAY_TASK_INDEX", Integer.toString(index))
                        .putEnv("SPILLWAY_TASK_COUNT", Integer.toString(spec.getTaskCount()))
                        .putEnv("SPILLWAY_ATTEMPT", Integer.toString(attempt))
                        .setResources(task.getResources()))
                .build();
    }
}
