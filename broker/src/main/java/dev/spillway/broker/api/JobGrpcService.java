package dev.spillway.broker.api;

import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.CancelJobResponse;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetJobResponse;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.GetTaskLogsResponse;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.SubmitJobResponse;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import dev.spillway.broker.admission.Submissions;
import dev.spillway.broker.jobs.Cancellation;
import dev.spillway.broker.jobs.JobAccess;
import dev.spillway.broker.jobs.JobQueries;
import dev.spillway.broker.jobs.TaskLogs;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.TenantScope;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
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

    public JobGrpcService(Submissions submissions, JobQueries queries, Cancellation cancellation, TaskLogs logs, JobStore store, Vertx vertx,
                          JobAccess access) {
        this.access = access;
        this.submissions = submissions;
        this.queries = queries;
        this.cancellation = cancellation;
        this.logs = logs;
        this.store = store;
        this.vertx = vertx;
    }

    @Override
    public void submitJob(SubmitJobRequest request, StreamObserver<SubmitJobResponse> out) {
        respond(submissions.submit(request.getSpec(), CallerInterceptor.caller(), CallerInterceptor.remote())
                .map(id -> SubmitJobResponse.newBuilder().setJobId(id.toString()).build()), out);
    }

    @Override
    public void getJob(GetJobRequest request, StreamObserver<GetJobResponse> out) {
        respond(Uni.createFrom().deferred(() -> queries.get(ApiErrors.uuid("job_id", request.getJobId()), CallerInterceptor.caller().readScope()))
                .map(ProtoMapping::getJobResponse), out);
    }

    @Override
    public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> out) {
        respond(Uni.createFrom().deferred(() -> queries.list(request.getPageSize(), request.getPageToken(), ProtoMapping.filter(request),
                        CallerInterceptor.caller().readScope()))
                .map(ProtoMapping::listJobsResponse), out);
    }

    @Override
    public void cancelJob(CancelJobRequest request, StreamObserver<CancelJobResponse> out) {
        respond(Uni.createFrom().deferred(() -> cancellation.cancel(ApiErrors.uuid("job_id", request.getJobId()), CallerInterceptor.caller(),
                        CallerInterceptor.remote()))
                .map(n -> CancelJobResponse.newBuilder().setCancelledTasks(n).build()), out);
    }

    @Override
    public void watchJob(WatchJobRequest request, StreamObserver<WatchJobResponse> out) {
        UUID id = jobIdOrReply(request.getJobId(), out);
        if (id == null) return;
        ServerCallStreamObserver<WatchJobResponse> call = (ServerCallStreamObserver<WatchJobResponse>) out;
        // Current state first (as synthetic events at sequence 0), then every event after the snapshot.
        TenantScope scope = CallerInterceptor.caller().readScope();
        access.visible(id, scope).flatMap(visible -> store.lastEventSeq(id)).flatMap(seq -> store.find(id).flatMap(job -> {
            return store.tasks(id).map(tasks -> {
                JobState state = ProtoMapping.jobState(job.state());
                List<WatchJobResponse> snapshot = new ArrayList<>();
                for (JobStore.TaskRow t : tasks) {
                    snapshot.add(ProtoMapping.event(new JobStore.EventRow(0, t.finishedAt() != null ? t.finishedAt()
                            : t.startedAt() != null ? t.startedAt() : job.createdAt(), t.index(), t.attempt(), t.state(), t.node(),
                            t.reason(), t.message()), state));
                }
                return new Object[] {seq, job.finishedAt() != null, snapshot};
            });
        })).subscribe().with(
                start -> {
                    @SuppressWarnings("unchecked")
                    List<WatchJobResponse> snapshot = (List<WatchJobResponse>) start[2];
                    snapshot.forEach(out::onNext);
                    if ((Boolean) start[1]) {
                        out.onCompleted();
                    } else {
                        follow(id, (Long) start[0], call);
                    }
                },
                e -> out.onError(ApiErrors.toStatus(e)));
    }

    /** Polls the event table; the stream ends once the job has finished and every event is sent. */
    private void follow(UUID id, long afterSeq, ServerCallStreamObserver<WatchJobResponse> call) {
        if (call.isCancelled()) return;
        store.eventsAfter(id, afterSeq, WATCH_BATCH).flatMap(events -> store.find(id).map(job -> new Object[] {events, job}))
                .subscribe().with(pair -> {
                    @SuppressWarnings("unchecked")
                    List<JobStore.EventRow> events = (List<JobStore.EventRow>) pair[0];
                    JobStore.JobRow job = (JobStore.JobRow) pair[1];
                    if (call.isCancelled()) return;
                    JobState state = ProtoMapping.jobState(job.state());
                    long last = afterSeq;
                    for (JobStore.EventRow e : events) {
                        call.onNext(ProtoMapping.event(e, state));
                        last = e.seq();
                    }
                    if (job.finishedAt() != null && events.size() < WATCH_BATCH) {
                        call.onCompleted();
                        return;
                    }
                    long next = last;
                    if (events.size() == WATCH_BATCH) {
                        follow(id, next, call);
                    } else {
                        vertx.setTimer(WATCH_POLL_MILLIS, t -> follow(id, next, call));
                    }
                }, e -> call.onError(ApiErrors.toStatus(e)));
    }

    @Override
    public void getTaskLogs(GetTaskLogsRequest request, StreamObserver<GetTaskLogsResponse> out) {
        UUID id = jobIdOrReply(request.getJobId(), out);
        if (id == null) return;
        ServerCallStreamObserver<GetTaskLogsResponse> call = (ServerCallStreamObserver<GetTaskLogsResponse>) out;
        // gRPC takes the cancel handler only now; the subscription it must cancel comes later.
        AtomicReference<TaskLogs.Subscription> subscription = new AtomicReference<>();
        AtomicBoolean cancelled = new AtomicBoolean();
        call.setOnCancelHandler(() -> {
            cancelled.set(true);
            TaskLogs.Subscription s = subscription.get();
            if (s != null) s.cancel();
        });
        logs.open(id, CallerInterceptor.caller().readScope(), request.getTaskIndex(), request.getAttempt(), request.getFollow(),
                request.getStream(), chunk -> {
            synchronized (call) {
                if (call.isCancelled()) return;
                if (!chunk.getError().isEmpty()) {
                    call.onError(Status.NOT_FOUND.withDescription(chunk.getError()).asRuntimeException());
                    return;
                }
                if (!chunk.getData().isEmpty()) call.onNext(GetTaskLogsResponse.newBuilder().setData(chunk.getData()).build());
                if (chunk.getEof()) call.onCompleted();
            }
        }).subscribe().with(s -> {
            subscription.set(s);
            if (cancelled.get()) s.cancel();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }

    /** The job id of a streaming call, or null after answering INVALID_ARGUMENT. */
    private static UUID jobIdOrReply(String value, StreamObserver<?> out) {
        try {
            return ApiErrors.uuid("job_id", value);
        } catch (RuntimeException e) {
            out.onError(ApiErrors.toStatus(e));
            return null;
        }
    }

    private static <T> void respond(Uni<T> work, StreamObserver<T> out) {
        work.subscribe().with(item -> {
            out.onNext(item);
            out.onCompleted();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }
}
