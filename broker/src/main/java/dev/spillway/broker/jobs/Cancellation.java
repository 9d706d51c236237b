package dev.spillway.broker.jobs;

import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Kill;
import dev.spillway.broker.agents.AgentSessions;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.Caller;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.UUID;

/** Cancelling a job: its unfinished tasks end CANCELLED in one statement, and running attempts are killed on their nodes. */
@ApplicationScoped
public class Cancellation {

    private final JobStore store;
    private final AgentSessions sessions;
    private final SchedulingLoop scheduler;
    private final JobAccess access;
    private final Audit audit;

    public Cancellation(JobStore store, AgentSessions sessions, SchedulingLoop scheduler, JobAccess access, Audit audit) {
        this.access = access;
        this.audit = audit;
        this.store = store;
        this.sessions = sessions;
        this.scheduler = scheduler;
    }

    /**
     * How many tasks it cancelled; NotFound for an unknown job or one of a tenant the caller does
     * not act in. Cancelling a finished job cancels nothing.
     */
    public Uni<Integer> cancel(UUID id, Caller caller, String remote) {
        return access.visible(id, caller.readScope()).flatMap(job -> store.cancel(id)
                .call(cancelled -> audit.record(caller, job.spec().getTenant(), "job.cancel", id.toString(),
                        cancelled.count() + " tasks cancelled", remote))
        ).map(cancelled -> {
            for (JobStore.CancelledTask t : cancelled.onNodes()) {
                if (t.node() == null) continue;
                sessions.send(t.node(), ConnectResponse.newBuilder().setKill(Kill.newBuilder().setJobId(id.toString())
                        .setTaskIndex(t.index()).setAttempt(t.attempt()).setReason("job cancelled")).build());
            }
            scheduler.wake();
            return cancelled.count();
        });
    }
}
