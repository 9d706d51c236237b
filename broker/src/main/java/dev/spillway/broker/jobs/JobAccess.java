package dev.spillway.broker.jobs;

import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.TenantScope;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.UUID;

/**
 * The one gate every read and write of a single job goes through: a job outside the caller's
 * tenants is answered exactly like a job that does not exist, so ids cannot be probed.
 */
@ApplicationScoped
public class JobAccess {

    private final JobStore store;

    public JobAccess(JobStore store) {
        this.store = store;
    }

    public Uni<JobStore.JobRow> visible(UUID id, TenantScope scope) {
        return store.find(id).map(job -> {
            if (job == null || !scope.includes(job.spec().getTenant())) throw NotFound.job(id);
            return job;
        });
    }
}
