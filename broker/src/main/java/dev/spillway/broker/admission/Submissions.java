package dev.spillway.broker.admission;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.security.CallerLimits;
import dev.spillway.broker.security.SecretBox;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.Caller;
import dev.spillway.broker.store.JobCatalog;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.UUID;

/** Submitting a job: admission, a durable group-committed write, then a scheduling cycle soon. */
@ApplicationScoped
public class Submissions {

    private final Admission admission;
    private final SubmissionBatcher batcher;
    private final JobCatalog catalog;
    private final SchedulingLoop scheduler;
    private final Audit audit;
    private final CallerLimits limits;
    private final SecretBox secrets;

    public Submissions(Admission admission, SubmissionBatcher batcher, JobCatalog catalog, SchedulingLoop scheduler, Audit audit,
                       CallerLimits limits, SecretBox secrets) {
        this.secrets = secrets;
        this.audit = audit;
        this.limits = limits;
        this.admission = admission;
        this.batcher = batcher;
        this.catalog = catalog;
        this.scheduler = scheduler;
    }

    /**
     * The new job's id once it is stored; a failed Uni with a domain error when it was refused
     * (nothing stored). The job belongs to the caller's tenant: a spec naming another tenant is
     * refused unless the caller is an admin. Each tenant's submissions are rate-limited.
     */
    public Uni<UUID> submit(JobSpec submitted, Caller caller, String remote) {
        UUID id = UUID.randomUUID();
        return Uni.createFrom().deferred(() -> {
            String tenant = caller.submitTenant(submitted.getTenant()).orElseThrow(() -> new PermissionDenied(
                    "you submit to tenant " + String.join(", ", new java.util.TreeSet<>(caller.tenants())) + ", not " + submitted.getTenant()));
            limits.admitSubmission(tenant, submitted.getTaskCount());
            return admission.admit(submitted.toBuilder().setTenant(tenant).build()).map(admitted -> secrets.seal(id, admitted));
        }).flatMap(spec -> batcher.submit(new JobStore.NewJob(id, spec, caller.subject(), remote)).invoke(() -> {
                    audit.log(caller.subject(), spec.getTenant(), "job.submit", id.toString(), spec.getTaskCount() + " tasks", remote);
                    catalog.put(id, spec);
                    scheduler.wake();
                }))
                .replaceWith(id);
    }
}
