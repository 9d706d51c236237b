package dev.spillway.broker.grpc;

import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.CancelJobResponse;
import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetJobResponse;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.GetTaskLogsResponse;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.Kill;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.LogRequest;
import dev.spillway.api.v1.LogStream;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.SubmitJobResponse;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import dev.spillway.broker.agent.AgentSession;
import dev.spillway.broker.agent.AgentSessions;
import dev.spillway.broker.agent.LogRouter;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.jobs.JobCatalog;
import dev.spillway.broker.jobs.JobQueries;
import dev.spillway.broker.jobs.JobSpecValidator;
import dev.spillway.broker.placement.SchedulingLoop;
import dev.spillway.broker.store.JobStore;
import dev.spillway.broker.cluster.NodeShapes;
import dev.spillway.broker.jobs.SubmissionBatcher;
import dev.spillway.core.scheduling.Resources;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;

/** spillway.v1.JobService. */
@GrpcService
public class JobGrpcService extends JobServiceGrpc.JobServiceImplBase {

    private static final long WATCH_POLL_MILLIS = 200;

    private final JobStore store;
    private final JobCatalog catalog;
    private final SchedulingLoop scheduler;
    private final AgentSessions sessions;
    private final LogRouter logs;
    private final JobSpecValidator validator;
    private final Vertx vertx;
    private final Pool pool;
    private final JobQueries queries;
    private final SubmissionBatcher submissions;
    private final NodeShapes shapes;

    public JobGrpcService(JobStore store, JobCatalog catalog, SchedulingLoop scheduler, AgentSessions sessions, LogRouter logs,
                          BrokerConfig config, Vertx vertx, Pool pool, JobQueries queries, SubmissionBatcher submissions,
                          NodeShapes shapes) {
        this.queries = queries;
        this.submissions = submissions;
        this.shapes = shapes;
        this.store = store;
        this.catalog = catalog;
        this.scheduler = scheduler;
        this.sessions = sessions;
        this.logs = logs;
        this.validator = new JobSpecValidator(config.limits());
        this.vertx = vertx;
        this.pool = pool;
    }

    @Override
    public void submitJob(SubmitJobRequest request, StreamObserver<SubmitJobResponse> out) {
        JobSpecValidator.Result result = validator.validate(request.getSpec());
        if (!result.valid()) {
            out.onError(GrpcErrors.invalid(result.violations()));
            return;
        }
        JobSpec spec = result.spec();
        UUID id = UUID.randomUUID();
        respond(checkSomeNodeFits(spec)
                .flatMap(v -> submissions.submit(id, spec))
                .invoke(() -> {
                    catalog.put(id, spec);
                    scheduler.wake();
                })
                .map(v -> SubmitJobResponse.newBuilder().setJobId(id.toString()).build()), out);
    }

    /**
     * Refuses a task no registered node could ever hold (in the pools it allows). With no nodes
     * registered at all there is nothing to judge by, and the job waits for capacity.
     */
    private Uni<Void> checkSomeNodeFits(JobSpec spec) {
        Resources need = JobCatalog.shapeOf(spec).request();
        List<String> allowed = spec.getTask().getPoolsList();
        return shapes.all().map(all -> {
            var candidates = all.stream().filter(n -> allowed.isEmpty() || allowed.contains(n.pool())).toList();
            if (all.isEmpty() || candidates.stream().anyMatch(n -> n.capacity().covers(need))) return null;
            StringBuilder largest = new StringBuilder();
            candidates.stream().map(n -> n.pool() + ": " + n.capacity()).distinct().limit(5)
                    .forEach(s -> largest.append(largest.length() == 0 ? "" : "; ").append(s));
            String where = allowed.isEmpty() ? "no pool" : "no node in pools " + allowed;
            throw GrpcErrors.invalid(List.of(JobSpecValidator.violation("spec.task.resources",
                    where + " offers " + need + " on one node" + (largest.length() > 0 ? " (nodes offer " + largest + ")" : ""))));
        });
    }

    @Override
    public void getJob(GetJobRequest request, StreamObserver<GetJobResponse> out) {
        respond(Uni.createFrom().deferred(() -> queries.get(GrpcErrors.jobId(request.getJobId()))), out);
    }

    @Override
    public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> out) {
        respond(Uni.createFrom().deferred(() -> queries.list(request)), out);
    }

    @Override
    public void cancelJob(CancelJobRequest request, StreamObserver<CancelJobResponse> out) {
        UUID id = jobIdOrReply(request.getJobId(), out);
        if (id == null) return;
        respond(store.find(id).flatMap(job -> {
            if (job == null) throw GrpcErrors.notFound("no job " + id);
            return store.cancel(id);
        }).map(cancelled -> {
            for (JobStore.CancelledTask t : cancelled) {
                if (t.node() == null || !(t.previousState().equals("ASSIGNED") || t.previousState().equals("RUNNING"))) continue;
                sessions.send(t.node(), ConnectResponse.newBuilder().setKill(Kill.newBuilder().setJobId(id.toString())
                        .setTaskIndex(t.index()).setAttempt(t.attempt()).setReason("job cancelled")).build());
            }
            scheduler.wake();
            return CancelJobResponse.newBuilder().setCancelledTasks(cancelled.size()).build();
        }), out);
    }

    @Override
    public void watchJob(WatchJobRequest request, StreamObserver<WatchJobResponse> out) {
        UUID id = jobIdOrReply(request.getJobId(), out);
        if (id == null) return;
        ServerCallStreamObserver<WatchJobResponse> call = (ServerCallStreamObserver<WatchJobResponse>) out;
        // Current state first (as synthetic events at sequence 0), then every event after the snapshot.
        store.lastEventSeq(id).flatMap(seq -> store.find(id).flatMap(job -> {
            if (job == null) throw GrpcErrors.notFound("no job " + id);
            return store.tasks(id).map(tasks -> {
                JobState state = JobState.valueOf("JOB_STATE_" + job.state());
                for (JobStore.TaskRow t : tasks) {
                    out.onNext(ProtoMapping.event(new JobStore.EventRow(0, t.finishedAt() != null ? t.finishedAt()
                            : t.startedAt() != null ? t.startedAt() : job.createdAt(), t.index(), t.attempt(), t.state(), t.node(),
                            t.reason(), t.message()), state));
                }
                return new long[] {seq, job.finishedAt() == null ? 0 : 1};
            });
        })).subscribe().with(
                start -> {
                    if (start[1] == 1) {
                        out.onCompleted();
                    } else {
                        follow(id, start[0], call);
                    }
                },
                e -> out.onError(GrpcErrors.toStatus(e)));
    }

    /** Polls the event table; the stream ends once the job has finished and every event is sent. */
    private void follow(UUID id, long afterSeq, ServerCallStreamObserver<WatchJobResponse> call) {
        if (call.isCancelled()) return;
        store.eventsAfter(id, afterSeq, 1000).flatMap(events -> store.find(id).map(job -> new Object[] {events, job}))
                .subscribe().with(pair -> {
                    @SuppressWarnings("unchecked")
                    List<JobStore.EventRow> events = (List<JobStore.EventRow>) pair[0];
                    JobStore.JobRow job = (JobStore.JobRow) pair[1];
                    if (call.isCancelled()) return;
                    JobState state = JobState.valueOf("JOB_STATE_" + job.state());
                    long last = afterSeq;
                    for (JobStore.EventRow e : events) {
                        call.onNext(ProtoMapping.event(e, state));
                        last = e.seq();
                    }
                    if (job.finishedAt() != null && events.size() < 1000) {
                        call.onCompleted();
                        return;
                    }
                    long next = last;
                    if (events.size() == 1000) {
                        follow(id, next, call);
                    } else {
                        vertx.setTimer(WATCH_POLL_MILLIS, t -> follow(id, next, call));
                    }
                }, e -> call.onError(GrpcErrors.toStatus(e)));
    }

    @Override
    public void getTaskLogs(GetTaskLogsRequest request, StreamObserver<GetTaskLogsResponse> out) {
        UUID id = jobIdOrReply(request.getJobId(), out);
        if (id == null) return;
        ServerCallStreamObserver<GetTaskLogsResponse> call = (ServerCallStreamObserver<GetTaskLogsResponse>) out;
        // gRPC takes the cancel handler only now; the log request it must cancel comes later.
        java.util.concurrent.atomic.AtomicReference<Runnable> onCancel = new java.util.concurrent.atomic.AtomicReference<>(() -> { });
        call.setOnCancelHandler(() -> onCancel.get().run());
        pool.preparedQuery("""
                SELECT t.attempt AS current, e.attempt, e.node FROM task t
                LEFT JOIN LATERAL (
                  SELECT attempt, node FROM task_event
                  WHERE job_id = t.job_id AND idx = t.idx AND state = 'ASSIGNED'
                    AND attempt = CASE WHEN $3 = 0 THEN t.attempt ELSE $3 END
                  ORDER BY seq DESC LIMIT 1) e ON true
                WHERE t.job_id = $1 AND t.idx = $2""")
                .execute(io.vertx.mutiny.sqlclient.Tuple.of(id, request.getTaskIndex(), request.getAttempt()))
                .subscribe().with(rows -> {
                    if (rows.size() == 0) {
                        out.onError(GrpcErrors.notFound("no task " + request.getTaskIndex() + " in job " + id));
                        return;
                    }
                    var r = rows.iterator().next();
                    String node = r.getString("node");
                    if (node == null) {
                        out.onError(GrpcErrors.notFound(r.getInteger("current") == 0
                                ? "task " + request.getTaskIndex() + " has not run yet"
                                : "task " + request.getTaskIndex() + " has no attempt " + request.getAttempt()));
                        return;
                    }
                    AgentSession session = sessions.get(node);
                    if (session == null) {
                        out.onError(Status.UNAVAILABLE.withDescription("node " + node + ", which ran the attempt, is not connected").asRuntimeException());
                        return;
                    }
                    streamLogs(id, request, r.getInteger("attempt"), session, call, onCancel);
                }, e -> out.onError(GrpcErrors.toStatus(e)));
    }

    private void streamLogs(UUID id, GetTaskLogsRequest request, int attempt, AgentSession session,
                            ServerCallStreamObserver<GetTaskLogsResponse> call,
                            java.util.concurrent.atomic.AtomicReference<Runnable> onCancel) {
        String requestId = UUID.randomUUID().toString();
        Consumer<dev.spillway.api.v1.LogChunk> sink = chunk -> {
            synchronized (call) {
                if (call.isCancelled()) return;
                if (!chunk.getError().isEmpty()) {
                    call.onError(Status.NOT_FOUND.withDescription(chunk.getError()).asRuntimeException());
                    return;
                }
                if (!chunk.getData().isEmpty()) call.onNext(GetTaskLogsResponse.newBuilder().setData(chunk.getData()).build());
                if (chunk.getEof()) call.onCompleted();
            }
        };
        logs.open(requestId, sink);
        LogRequest.Builder ask = LogRequest.newBuilder().setRequestId(requestId).setJobId(id.toString())
                .setTaskIndex(request.getTaskIndex()).setAttempt(attempt).setFollow(request.getFollow())
                .setStream(request.getStream() == LogStream.LOG_STREAM_UNSPECIFIED ? LogStream.LOG_STREAM_STDOUT : request.getStream());
        onCancel.set(() -> {
            logs.close(requestId);
            session.send(ConnectResponse.newBuilder().setLogRequest(ask.clone().setCancel(true)).build());
        });
        if (!session.send(ConnectResponse.newBuilder().setLogRequest(ask).build())) {
            logs.close(requestId);
            call.onError(Status.UNAVAILABLE.withDescription("node " + session.node() + " disconnected").asRuntimeException());
        }
    }

    /** The job id, or null after answering INVALID_ARGUMENT. */
    private static UUID jobIdOrReply(String value, StreamObserver<?> out) {
        try {
            return GrpcErrors.jobId(value);
        } catch (RuntimeException e) {
            out.onError(e);
            return null;
        }
    }

    private static <T> void respond(Uni<T> work, StreamObserver<T> out) {
        work.subscribe().with(item -> {
            out.onNext(item);
            out.onCompleted();
        }, e -> out.onError(GrpcErrors.toStatus(e)));
    }
}
