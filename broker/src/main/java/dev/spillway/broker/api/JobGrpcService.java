package dev.spillway.broker.api;

import dev.spillway.api.ResourceNames;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.GetTaskLogsResponse;
import dev.spillway.api.v1.GetTaskRequest;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.ListTasksRequest;
import dev.spillway.api.v1.ListTasksResponse;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import dev.spillway.broker.admission.Submissions;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.jobs.Cancellation;
import dev.spillway.broker.jobs.JobAccess;
import dev.spillway.broker.jobs.JobQueries;
import dev.spillway.broker.jobs.TaskLogs;
import dev.spillway.broker.security.CallerLimits;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.TenantScope;
import dev.spillway.core.task.TaskState;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/** spillway.v1.JobService: requests to domain calls, domain results and errors to messages and status codes. */
@GrpcService
public class JobGrpcService extends JobServiceGrpc.JobServiceImplBase {

    private static final long WATCH_POLL_MILLIS = 200;
    private static final int WATCH_BATCH = 1000;

    private final Submissions submissions;
    private final JobQueries queries;
    private final Cancellation cancellation;
    private final TaskLogs logs;
    private final JobStore store;
    private final Vertx vertx;
    private final JobAccess access;
    private final CallerLimits limits;
    private final long streamBufferBytes;
    private final io.micrometer.core.instrument.Counter notReading;
    private final DatabaseCalls db;
    private final dev.spillway.broker.cost.JobEstimates estimates;

    public JobGrpcService(Submissions submissions, JobQueries queries, Cancellation cancellation, TaskLogs logs, JobStore store, Vertx vertx,
                          JobAccess access, CallerLimits limits, BrokerConfig config, io.micrometer.core.instrument.MeterRegistry registry,
                          DatabaseCalls db, dev.spillway.broker.cost.JobEstimates estimates) {
        this.db = db;
        this.estimates = estimates;
        this.notReading = io.micrometer.core.instrument.Counter.builder("spillway_client_streams_ended").tag("reason", "not_reading")
                .description("Watch and log streams ended because their client stopped reading (the broker holds at most "
                        + "spillway.limits.stream-buffer-bytes for each)").register(registry);
        this.access = access;
        this.limits = limits;
        this.streamBufferBytes = config.limits().streamBufferBytes();
        this.submissions = submissions;
        this.queries = queries;
        this.cancellation = cancellation;
        this.logs = logs;
        this.store = store;
        this.vertx = vertx;
    }

    @Override
    public void submitJob(SubmitJobRequest request, StreamObserver<Job> out) {
        // The job as this call stored it, every task queued (nothing read back); a retried request gets the job its first
        // call created, as it is now.
        ApiErrors.respond(submissions.submit(request.getSpec(), request.getRequestId(), CallerInterceptor.caller(), CallerInterceptor.remote())
                .flatMap(s -> s.stored() != null
                        ? Uni.createFrom().item(new JobQueries.JobView(s.stored(), Map.of(TaskState.QUEUED.name(), s.stored().spec().getTaskCount()), null))
                        : queries.get(s.id(), TenantScope.all()))
                .map(ProtoMapping::job), out);
    }

    @Override
    public void estimateJob(dev.spillway.api.v1.EstimateJobRequest request, StreamObserver<dev.spillway.api.v1.EstimateJobResponse> out) {
        ApiErrors.respond(submissions.admitted(request.getSpec(), CallerInterceptor.caller()).flatMap(estimates::estimate), out);
    }

    @Override
    public void listTasks(ListTasksRequest request, StreamObserver<ListTasksResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            UUID job = RequestNames.job("parent", request.getParent());
            return queries.tasks(job, request.getPageSize(), request.getPageToken(), request.getFilter(),
                    CallerInterceptor.caller().readScope()).map(page -> ProtoMapping.listTasksResponse(job, page));
        }), out);
    }

    @Override
    public void getTask(GetTaskRequest request, StreamObserver<Task> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            ResourceNames.TaskName name = RequestNames.task("name", request.getName());
            return queries.task(name.job(), name.index(), CallerInterceptor.caller().readScope()).map(row -> ProtoMapping.task(name.job(), row));
        }), out);
    }

    @Override
    public void getJob(GetJobRequest request, StreamObserver<Job> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> queries.get(RequestNames.job("name", request.getName()), CallerInterceptor.caller().readScope()))
                .map(ProtoMapping::job), out);
    }

    @Override
    public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> queries.list(request.getPageSize(), request.getPageToken(), request.getFilter(),
                        CallerInterceptor.caller().readScope()))
                .map(ProtoMapping::listJobsResponse), out);
    }

    @Override
    public void cancelJob(CancelJobRequest request, StreamObserver<Job> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            UUID id = RequestNames.job("name", request.getName());
            return cancellation.cancel(id, CallerInterceptor.caller(), CallerInterceptor.remote())
                    .flatMap(cancelled -> queries.get(id, CallerInterceptor.caller().readScope())).map(ProtoMapping::job);
        }), out);
    }

    @Override
    public void watchJob(WatchJobRequest request, StreamObserver<WatchJobResponse> out) {
        UUID id = jobOrReply(request.getName(), out);
        if (id == null) return;
        long after = request.getAfterSequence();
        if (after < 0) {
            out.onError(ApiErrors.toStatus(InvalidRequest.of("after_sequence", "must not be negative (got " + after + ")")));
            return;
        }
        Outbox<WatchJobResponse> outbox = stream((ServerCallStreamObserver<WatchJobResponse>) out, () -> { });
        if (outbox == null) return;
        TenantScope scope = CallerInterceptor.caller().readScope();
        if (request.hasAfterSequence()) {
            // Resumed: the events after the last one the client received, nothing before.
            access.visible(id, scope).flatMap(visible -> store.lastEventSeq(id)).subscribe().with(last -> {
                if (after > last) {
                    outbox.fail(ApiErrors.toStatus(InvalidRequest.of("after_sequence", "job " + id + " has no event " + after
                            + " (its last is " + last + "): resume with a sequence this job's watch sent")));
                } else {
                    follow(id, after, outbox);
                }
            }, e -> outbox.fail(ApiErrors.toStatus(e)));
            return;
        }
        // The job as it is first (with its task counts), then every event committed after that snapshot.
        access.visible(id, scope).flatMap(visible -> store.watchStart(id)).subscribe().with(
                start -> {
                    dev.spillway.api.v1.Job job = ProtoMapping.job(queries.view(start.job(), start.taskCounts()));
                    outbox.send(WatchJobResponse.newBuilder().setSequence(start.lastEventSeq()).setJob(job).setJobState(job.getState())
                            .setTime(job.getCreateTime()).build());
                    if (start.job().finishedAt() != null) {
                        outbox.complete();
                    } else {
                        outbox.whenDrained(() -> follow(id, start.lastEventSeq(), outbox));
                    }
                },
                e -> outbox.fail(ApiErrors.toStatus(e)));
    }

    /**
     * Polls the event table; the stream ends once the job has finished and every event is sent.
     * The next batch is read only once the client has taken the last one (flow control). A poll
     * the database cannot answer for now (it restarts, a connection broke) is tried again from the
     * same position, with backoff, for as long as the database's own limits allow one call
     * ({@link DatabaseCalls#bound()}); only then does the stream end, with UNAVAILABLE.
     */
    private void follow(UUID id, long afterSeq, Outbox<WatchJobResponse> outbox) {
        follow(id, afterSeq, outbox, 0);
    }

    private void follow(UUID id, long afterSeq, Outbox<WatchJobResponse> outbox, long failingSinceNanos) {
        if (outbox.isClosed()) return;
        // The job first, then its events: when it has finished, every event up to its end is already there. The events
        // carry the job's state as read after them (again, when it had not finished), so that the event that finishes the
        // job says so even when it was committed between the two reads.
        store.find(id).flatMap(job -> store.eventsAfter(id, afterSeq, WATCH_BATCH).flatMap(events -> job.finishedAt() != null || events.isEmpty()
                        ? Uni.createFrom().item(new Object[] {events, job, job})
                        : store.find(id).map(after -> new Object[] {events, job, after == null ? job : after})))
                .subscribe().with(read -> {
                    @SuppressWarnings("unchecked")
                    List<JobStore.EventRow> events = (List<JobStore.EventRow>) read[0];
                    JobStore.JobRow job = (JobStore.JobRow) read[1];
                    if (outbox.isClosed()) return;
                    JobState state = ProtoMapping.jobState(((JobStore.JobRow) read[2]).state());
                    long last = afterSeq;
                    for (JobStore.EventRow e : events) {
                        outbox.send(ProtoMapping.event(id, e, state));
                        last = e.seq();
                    }
                    if (job.finishedAt() != null && events.size() < WATCH_BATCH) {
                        outbox.complete();
                        return;
                    }
                    long next = last;
                    boolean more = events.size() == WATCH_BATCH;
                    outbox.whenDrained(() -> {
                        if (more) follow(id, next, outbox);
                        else vertx.setTimer(WATCH_POLL_MILLIS, t -> follow(id, next, outbox));
                    });
                }, e -> {
                    long now = System.nanoTime();
                    long since = failingSinceNanos == 0 ? now : failingSinceNanos;
                    if (DatabaseCalls.unavailableBecause(e) != null && now - since < db.bound().toNanos()) {
                        long delay = Math.min(2000, WATCH_POLL_MILLIS * (1L << Math.min(4, (now - since) / 1_000_000_000L)));
                        vertx.setTimer(delay, t -> follow(id, afterSeq, outbox, since));
                    } else {
                        outbox.fail(ApiErrors.toStatus(e));
                    }
                });
    }

    @Override
    public void getTaskLogs(GetTaskLogsRequest request, StreamObserver<GetTaskLogsResponse> out) {
        ResourceNames.AttemptName attempt;
        try {
            attempt = RequestNames.attempt("name", request.getName());
        } catch (RuntimeException e) {
            out.onError(ApiErrors.toStatus(e));
            return;
        }
        UUID id = attempt.job();
        // The subscription to the node's log stream comes later than the handlers gRPC takes now.
        AtomicReference<TaskLogs.Subscription> subscription = new AtomicReference<>();
        AtomicBoolean closed = new AtomicBoolean();
        Outbox<GetTaskLogsResponse> outbox = stream((ServerCallStreamObserver<GetTaskLogsResponse>) out, () -> {
            closed.set(true);
            TaskLogs.Subscription s = subscription.get();
            if (s != null) s.cancel();
        });
        if (outbox == null) return;
        logs.open(id, CallerInterceptor.caller().readScope(), attempt.index(), attempt.attempt(), request.getFollow(),
                request.getStream(), chunk -> {
                    if (!chunk.getError().isEmpty()) {
                        outbox.fail(ApiErrors.toStatus(new dev.spillway.broker.errors.NotFound(chunk.getError())));
                        return;
                    }
                    // A client that does not read ends its stream once the bound is reached; the node is told to stop.
                    if (!chunk.getData().isEmpty()) outbox.send(GetTaskLogsResponse.newBuilder().setData(chunk.getData()).build());
                    if (chunk.getEof()) outbox.complete();
                }).subscribe().with(s -> {
                    subscription.set(s);
                    if (closed.get()) s.cancel();
                }, e -> outbox.fail(ApiErrors.toStatus(e)));
    }

    /**
     * A flow-controlled stream counted against the caller's open streams, or null after refusing
     * the call (too many open). {@code onClosed} runs once however the stream ends.
     */
    private <T extends com.google.protobuf.MessageLite> Outbox<T> stream(ServerCallStreamObserver<T> call, Runnable onClosed) {
        Runnable release;
        try {
            release = limits.openStream(CallerInterceptor.caller());
        } catch (RuntimeException e) {
            call.onError(ApiErrors.toStatus(e));
            return null;
        }
        return new Outbox<>(call, com.google.protobuf.MessageLite::getSerializedSize, streamBufferBytes, () -> {
            release.run();
            onClosed.run();
        }, notReading::increment);
    }

    /** The job a streaming call names, or null after answering INVALID_ARGUMENT. */
    private static UUID jobOrReply(String name, StreamObserver<?> out) {
        try {
            return RequestNames.job("name", name);
        } catch (RuntimeException e) {
            out.onError(ApiErrors.toStatus(e));
            return null;
        }
    }
}
