package dev.spillway.broker.admission;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.scheduling.SchedulingLoop;
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

    public Submissions(Admission admission, SubmissionBatcher batcher, JobCatalog catalog, SchedulingLoop scheduler) {
        this.admission = admission;
        this.batcher = batcher;
        this.catalog = catalog;
        this.scheduler = scheduler;
    }

    /** The new job's id once it is stored; a failed Uni with a domain error when it was refused (nothing stored). */
    public Uni<UUID> submit(JobSpec submitted) {
        UUID id = UUID.randomUUID();
        return admission.admit(submitted)
                .flatMap(spec -> batcher.submit(id, spec).invoke(() -> {
                    catalog.put(id, spec);
                    scheduler.wake();
                }))
                .replaceWith(id);
    }
}
