package dev.spillway.broker.agents;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.security.SecretBox;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.UUID;

/**
 * Builds what an agent needs to run one attempt. The job's secret environment is opened here,
 * for the one message to the agent that runs the attempt, and nowhere else.
 */
@ApplicationScoped
public class AssignMessages {

    private final SecretBox secrets;

    public AssignMessages(SecretBox secrets) {
        this.secrets = secrets;
    }

    public ConnectResponse assign(UUID jobId, JobSpec spec, int index, int attempt) {
        var task = spec.getTask();
        Assign.Builder assign = Assign.newBuilder();
        if (task.hasMaxRuntime()) assign.setMaxRuntime(task.getMaxRuntime());
        return ConnectResponse.newBuilder().setAssign(assign
                        .setJobId(jobId.toString())
                        .setTaskIndex(index)
                        .setAttempt(attempt)
                        .addAllCommand(task.getCommandList())
                        .putAllEnv(task.getEnvMap())
                        .putAllEnv(secrets.open(jobId, spec))
                        .putEnv("SPILLWAY_JOB_ID", jobId.toString())
                        .putEnv("SPILLWAY_TASK_INDEX", Integer.toString(index))
                        .putEnv("SPILLWAY_TASK_COUNT", Integer.toString(spec.getTaskCount()))
                        .putEnv("SPILLWAY_ATTEMPT", Integer.toString(attempt))
                        .setResources(task.getResources()))
                .build();
    }
}
