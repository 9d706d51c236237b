package dev.spillway.broker.jobs;

import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.LogChunk;
import dev.spillway.api.agent.v1.LogRequest;
import dev.spillway.api.v1.LogStream;
import dev.spillway.broker.agents.AgentSession;
import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.agents.LogRouter;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.Unavailable;
import dev.spillway.broker.store.TaskStore;
import dev.spillway.core.access.TenantScope;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * A task attempt's output, read from the agent of the node that ran it (logs stay on the nodes).
 * The chunks travel over the agent's stream to the sink of the client call that asked.
 */
@ApplicationScoped
public class TaskLogs {

    private final TaskStore tasks;
    private final AgentSessions sessions;
    private final LogRouter logs;
    private final JobAccess access;

    public TaskLogs(TaskStore tasks, AgentSessions sessions, LogRouter logs, JobAccess access) {
        this.access = access;
        this.tasks = tasks;
        this.sessions = sessions;
        this.logs = logs;
    }

    /** An open log stream; {@link #cancel()} stops it (the client went away). */
    public interface Subscription {
        void cancel();
    }

    /**
     * Starts streaming. {@code attempt} 0 means the current one. Fails with NotFound (no such
     * task or attempt, or it has not run) or Unavailable (its node is not connected).
     */
    public Uni<Subscription> open(UUID jobId, TenantScope scope, int index, int attempt, boolean follow, LogStream stream,
                                  Consumer<LogChunk> sink) {
        return access.visible(jobId, scope).flatMap(job -> tasks.attemptPlace(jobId, index, attempt)).map(place -> {
            if (place == null) throw new NotFound("no task " + index + " in job " + jobId);
            if (place.node() == null) {
                throw new NotFound(place.currentAttempt() == 0 ? "task " + index + " has not run yet" : "task " + index + " has no attempt " + attempt);
            }
            AgentSession session = sessions.get(place.node());
            if (session == null) throw new Unavailable("node " + place.node() + ", which ran the attempt, is not connected");
            String requestId = UUID.randomUUID().toString();
            logs.open(requestId, sink);
            LogRequest.Builder ask = LogRequest.newBuilder().setRequestId(requestId).setJobId(jobId.toString())
                    .setTaskIndex(index).setAttempt(place.attempt()).setFollow(follow)
                    .setStream(stream == LogStream.LOG_STREAM_UNSPECIFIED ? LogStream.LOG_STREAM_STDOUT : stream);
            if (!session.send(ConnectResponse.newBuilder().setLogRequest(ask).build())) {
                logs.close(requestId);
                throw new Unavailable("node " + session.node() + " disconnected");
            }
            return () -> {
                logs.close(requestId);
                session.send(ConnectResponse.newBuilder().setLogRequest(ask.clone().setCancel(true)).build());
            };
        });
    }
}
