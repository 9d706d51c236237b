package dev.spillway.broker.admission;

import com.google.protobuf.CodedOutputStream;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.cost.Budgets;
import dev.spillway.broker.cost.JobEstimates;
import dev.spillway.broker.errors.AlreadyExists;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.policy.Policies;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.security.CallerLimits;
import dev.spillway.broker.security.SecretBox;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.Caller;
import dev.spillway.core.cost.Quote;
import dev.spillway.core.lifecycle.JobState;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import java.security.MessageDigest;
import java.util.List;
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
    private final JobStore jobs;
    private final Policies policies;
    private final Budgets budgets;
    private final JobEstimates estimates;

    public Submissions(Admission admission, SubmissionBatcher batcher, JobCatalog catalog, SchedulingLoop scheduler, Audit audit,
                       CallerLimits limits, SecretBox secrets, JobStore jobs, Policies policies, Budgets budgets, JobEstimates estimates) {
        this.budgets = budgets;
        this.estimates = estimates;
        this.jobs = jobs;
        this.policies = policies;
        this.secrets = secrets;
        this.audit = audit;
        this.limits = limits;
        this.admission = admission;
        this.batcher = batcher;
        this.catalog = catalog;
        this.scheduler = scheduler;
    }

    /** Longest request id (AIP-155 suggests a UUID; anything printable up to this length is taken). */
    static final int MAX_REQUEST_ID = 128;

    /**
     * The new job's id once it is stored; a failed Uni with a domain error when it was refused
     * (nothing stored). The job belongs to the caller's tenant: a spec naming another tenant is
     * refused unless the caller is an admin. A job submitted to a queue takes the queue's tenant
     * (and its default priority when it sets none) before that check. Each tenant's submissions
     * are rate-limited.
     *
     * <p>With a {@code requestId}, the call can be retried safely: if the tenant's same request id
     * created a job within the last 24 hours, that job's id is returned and nothing is stored (a
     * retry is neither admitted nor rate-limited again); if that job came from a different spec,
     * the call fails with {@link AlreadyExists}. Two concurrent calls with one id store one job:
     * the id's record is written with the job, and the loser of the race returns the winner's job.
     */
    public Uni<Submitted> submit(JobSpec asSubmitted, String requestId, Caller caller, String remote) {
        return Uni.createFrom().deferred(() -> {
            JobSpec submitted = policies.withQueue(asSubmitted);
            String tenant = caller.submitTenant(submitted.getTenant()).orElseThrow(() -> PermissionDenied.tenant(submitted.getTenant(),
                    "you submit to tenant " + String.join(", ", new java.util.TreeSet<>(caller.tenants())) + ", not " + submitted.getTenant()));
            if (requestId.isEmpty()) return store(submitted, tenant, null, caller, remote);
            checkRequestId(requestId);
            byte[] digest = digest(submitted.toBuilder().setTenant(tenant).build());
            JobStore.SubmitRequest request = new JobStore.SubmitRequest(requestId, digest);
            return jobs.findRequest(tenant, requestId).flatMap(first -> first != null
                    ? Uni.createFrom().item(() -> new Submitted(replay(first, request), null))
                    : store(submitted, tenant, request, caller, remote)
                            .onFailure(Submissions::requestIdTaken).recoverWithUni(e -> jobs.findRequest(tenant, requestId).map(winner -> {
                                if (winner == null) throw new IllegalStateException("request id " + requestId + " was taken, then vanished", e);
                                return new Submitted(replay(winner, request), null);
                            })));
        });
    }

    /**
     * The spec as SubmitJob would admit it, storing nothing (for a quote): the queue's tenant and priority applied, the
     * caller allowed to submit to that tenant, the spec checked and the policies' admission rules passed.
     */
    public Uni<JobSpec> admitted(JobSpec asSubmitted, Caller caller) {
        return Uni.createFrom().deferred(() -> {
            JobSpec submitted = policies.withQueue(asSubmitted);
            String tenant = caller.submitTenant(submitted.getTenant()).orElseThrow(() -> PermissionDenied.tenant(submitted.getTenant(),
                    "you submit to tenant " + String.join(", ", new java.util.TreeSet<>(caller.tenants())) + ", not " + submitted.getTenant()));
            return admission.admit(submitted.toBuilder().setTenant(tenant).build());
        });
    }

    /**
     * A submission's job: {@code stored} is the job as this call stored it, null when an earlier call with the same request
     * id stored it (the job may have moved on since: read it).
     */
    public record Submitted(UUID id, JobStore.JobRow stored) {
    }

    private Uni<Submitted> store(JobSpec submitted, String tenant, JobStore.SubmitRequest request, Caller caller, String remote) {
        UUID id = UUID.randomUUID();
        limits.admitSubmission(tenant, submitted.getTaskCount());
        // Every job is quoted as it is admitted (the quote is kept with it, to be held against what it costs). A tenant with
        // budgets reserves the quote's bound in them, which may block: on a worker thread.
        return admission.admit(submitted.toBuilder().setTenant(tenant).build())
                .flatMap(admitted -> estimates.quoteAdmitted(admitted).flatMap(quote -> (budgets.reserves(tenant)
                                ? Uni.createFrom().item(quote).emitOn(Infrastructure.getDefaultWorkerPool()).map(q -> budgets.reservationsFor(admitted, q))
                                : Uni.createFrom().item(List.<JobStore.Reservation>of()))
                        .map(reservations -> new JobStore.NewJob(id, secrets.seal(id, admitted), caller.subject(), remote, request, reservations,
                                kept(quote)))))
                .flatMap(job -> batcher.submit(job)
                        .onFailure(Submissions::budgetRefused).recoverWithUni(e -> budgets.refusal(tenant, job.reservations()).map(refusal -> {
                            throw refusal;
                        }))
                        .invoke(() -> {
                            audit.log(caller.subject(), job.spec().getTenant(), "job.submit", id.toString(), job.spec().getTaskCount() + " tasks", remote);
                            catalog.put(id, job.spec());
                            scheduler.workArrived();
                        })
                        .map(createdAt -> new Submitted(id, new JobStore.JobRow(id, JobState.QUEUED, createdAt, null, job.spec(), job.quote()))));
    }

    /** The figures of a quote that are kept with the job: what it should cost, and its bound or why it has none. */
    static JobStore.Quote kept(Quote.Result quote) {
        if (quote.notToExceedMicroUsd() != null) return new JobStore.Quote(quote.expectedMicroUsd(), quote.notToExceedMicroUsd(), null);
        return new JobStore.Quote(quote.expectedMicroUsd(), null, quote.unbounded().isEmpty()
                ? "no node or cloud pool could hold a task of its shape when it was admitted" : quote.unbounded());
    }

    private static UUID replay(JobStore.RequestedJob first, JobStore.SubmitRequest retry) {
        if (!MessageDigest.isEqual(first.specSha256(), retry.specSha256())) {
            throw AlreadyExists.requestIdReused("jobs/" + first.jobId(), "request_id " + retry.id() + " was used within the last 24 hours for job " + first.jobId()
                    + ", with a different spec; use a new request id for a new job");
        }
        return first.jobId();
    }

    private static void checkRequestId(String id) {
        if (id.length() > MAX_REQUEST_ID) {
            throw InvalidRequest.of("request_id", "at most " + MAX_REQUEST_ID + " characters (got " + id.length() + ")");
        }
        if (id.codePoints().anyMatch(c -> Character.isISOControl(c) || Character.isWhitespace(c))) {
            throw InvalidRequest.of("request_id", "must not contain spaces or control characters");
        }
    }

    /** SHA-256 of the spec's deterministic encoding (map entries in key order), to tell a retry from another job. */
    static byte[] digest(JobSpec spec) {
        try {
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(spec.getSerializedSize());
            CodedOutputStream out = CodedOutputStream.newInstance(bytes);
            out.useDeterministicSerialization();
            spec.writeTo(out);
            out.flush();
            return MessageDigest.getInstance("SHA-256").digest(bytes.toByteArray());
        } catch (java.io.IOException | java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The statement stored nothing because a hard budget had no room for the job's not-to-exceed cost. */
    private static boolean budgetRefused(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof PgException pg && JobStore.BUDGET_REFUSED.equals(pg.getSqlState())) return true;
        }
        return false;
    }

    /** The database refused a second record of one (tenant, request id): another call with the same id won the race. */
    private static boolean requestIdTaken(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof PgException pg && "23505".equals(pg.getSqlState()) && "submit_request_pkey".equals(pg.getConstraint())) return true;
        }
        return false;
    }
}
