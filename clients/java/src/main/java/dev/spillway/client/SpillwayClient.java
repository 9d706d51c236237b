package dev.spillway.client;

import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import com.google.rpc.RetryInfo;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.EstimateJobRequest;
import dev.spillway.api.v1.EstimateJobResponse;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.GetTaskLogsResponse;
import dev.spillway.api.v1.GetTaskRequest;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.ListTasksRequest;
import dev.spillway.api.v1.ListTasksResponse;
import dev.spillway.api.v1.LogStream;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The Java client of a Spillway broker ({@code spillway.v1} over gRPC).
 *
 * <pre>{@code
 * try (SpillwayClient spillway = SpillwayClient.builder()
 *         .target("broker.example.com:7070")
 *         .token(System.getenv("SPILLWAY_TOKEN"))
 *         .trustCa(Path.of("ca.pem"))
 *         .build()) {
 *     Job job = spillway.submit(JobSpecs.shell("echo task $SPILLWAY_TASK_INDEX").tasks(10).build());
 *     spillway.watch(job.getName()).forEach(event -> System.out.println(event.getMessage()));
 * }
 * }</pre>
 *
 * <p>What it does for its caller:
 * <ul>
 *   <li><b>Deadlines.</b> Every unary call carries the client's deadline ({@link Builder#deadline},
 *       30 s unless set), each try afresh. Streams (watch, logs) have none: they last as long as
 *       the job or the attempt.
 *   <li><b>Retries without duplicates.</b> A call the broker could not take (UNAVAILABLE: a
 *       restart, a failover, a network cut) is tried again after a backoff ({@link Backoff}); so is
 *       one refused for the caller's rate (RESOURCE_EXHAUSTED with a {@code RetryInfo}), after the
 *       wait the broker asked for. A submission carries a {@code request_id} chosen once and reused
 *       by every try, so a try whose answer was lost (UNAVAILABLE or DEADLINE_EXCEEDED after it
 *       was sent) cannot store the job twice: the broker answers the retry with the job the first
 *       try made.
 *   <li><b>Listings</b> are streams that fetch the next page when the caller reads past the last.
 *   <li><b>Watches resume.</b> A watch broken by the broker or the network is reopened after the
 *       last event received, so no event is lost or seen twice, for up to
 *       {@link Builder#resumeFor} without an answer.
 * </ul>
 * Failures are the calls' own {@link StatusRuntimeException}s; {@link #violations} reads the
 * field violations of an INVALID_ARGUMENT.
 *
 * <p>A client is thread-safe; make one per broker and share it. {@link #withToken} makes a client
 * for another caller over the same connection.
 */
public final class SpillwayClient implements AutoCloseable {

    /** The header the credential travels in. */
    public static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    /** Items per page the listings ask for (the broker's maximum is higher; this keeps each answer small). */
    static final int PAGE_SIZE = 500;

    /**
     * A try that failed and will be made again, for a listener ({@link Builder#onRetry}): the
     * method, the try that failed (1 for the first), its status, how long the client waits before
     * the next, and the submission's request id (empty for other calls).
     */
    public record Retry(String method, int attempt, Status status, Duration delay, String requestId) {
    }

    private final ManagedChannel owned;
    private final Channel transport;
    private final Channel channel;
    private final Duration deadline;
    private final Backoff backoff;
    private final Duration resumeFor;
    private final Consumer<Retry> onRetry;

    private SpillwayClient(ManagedChannel owned, Channel transport, String token, Duration deadline, Backoff backoff, Duration resumeFor,
                           Consumer<Retry> onRetry) {
        this.owned = owned;
        this.transport = transport;
        this.channel = token == null ? transport : ClientInterceptors.intercept(transport, bearer(token));
        this.deadline = deadline;
        this.backoff = backoff;
        this.resumeFor = resumeFor;
        this.onRetry = onRetry;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A client calling as the holder of {@code token}, over this client's connection and with its
     * settings; closing it leaves the connection open (close this one for that).
     */
    public SpillwayClient withToken(String token) {
        return new SpillwayClient(null, transport, Objects.requireNonNull(token, "token"), deadline, backoff, resumeFor, onRetry);
    }

    // ---- JobService ----

    /** Submits a job under a new request id (reused by this call's own retries); the job as stored. */
    public Job submit(JobSpec spec) {
        return submit(spec, UUID.randomUUID().toString());
    }

    /**
     * Submits a job under {@code requestId}: the same id within 24 hours answers with the job it
     * made rather than a new one, so a caller that does not know whether an earlier submission
     * landed may send it again with the same id.
     */
    public Job submit(JobSpec spec, String requestId) {
        SubmitJobRequest request = SubmitJobRequest.newBuilder().setSpec(spec).setRequestId(requestId).build();
        return unary("SubmitJob", requestId, true, () -> jobs().submitJob(request));
    }

    /** The job {@code job} (a name {@code jobs/{id}} or the bare id) with its task counts. */
    public Job getJob(String job) {
        GetJobRequest request = GetJobRequest.newBuilder().setName(job).build();
        return unary("GetJob", "", false, () -> jobs().getJob(request));
    }

    /** Task {@code index} of {@code job}. */
    public Task getTask(String job, int index) {
        GetTaskRequest request = GetTaskRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(job, index)).build();
        return unary("GetTask", "", false, () -> jobs().getTask(request));
    }

    /** Cancels {@code job}: queued tasks never start, running ones are killed. Cancelling twice is harmless. */
    public Job cancel(String job) {
        CancelJobRequest request = CancelJobRequest.newBuilder().setName(job).build();
        return unary("CancelJob", "", false, () -> jobs().cancelJob(request));
    }

    /** Where {@code spec} would run now and what it would cost, without submitting it. */
    public EstimateJobResponse estimate(JobSpec spec) {
        EstimateJobRequest request = EstimateJobRequest.newBuilder().setSpec(spec).build();
        return unary("EstimateJob", "", false, () -> jobs().estimateJob(request));
    }

    /**
     * The caller's jobs, newest first, that match {@code filter} (AIP-160, e.g.
     * {@code state = RUNNING AND labels.team = ml}; empty for all), fetched a page at a time as the
     * stream is read.
     */
    public Stream<Job> listJobs(String filter) {
        return pages("ListJobs", token -> jobs().listJobs(ListJobsRequest.newBuilder().setFilter(filter).setPageSize(PAGE_SIZE)
                .setPageToken(token).build()), ListJobsResponse::getJobsList, ListJobsResponse::getNextPageToken);
    }

    /** The tasks of {@code job} by index that match {@code filter} (empty for all), a page at a time. */
    public Stream<Task> listTasks(String job, String filter) {
        return pages("ListTasks", token -> jobs().listTasks(ListTasksRequest.newBuilder().setParent(job).setFilter(filter)
                .setPageSize(PAGE_SIZE).setPageToken(token).build()), ListTasksResponse::getTasksList, ListTasksResponse::getNextPageToken);
    }

    /**
     * The job's events from its start until it has finished: the stream ends after the event that
     * finishes it. Reopened after the last event received when it breaks (see the class). Close the
     * stream to stop watching early.
     */
    public Stream<WatchJobResponse> watch(String job) {
        return watch(job, null);
    }

    /** The job's events after sequence {@code afterSequence} (null: from the start). */
    public Stream<WatchJobResponse> watch(String job, Long afterSequence) {
        Watch watch = new Watch(job, afterSequence);
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(watch, Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(watch::cancel);
    }

    /**
     * The output of attempt {@code attempt} (0: the current one) of task {@code index} of
     * {@code job}, as the node that ran it holds it; with {@code follow}, new output as it comes
     * until the attempt ends. Close the stream to stop.
     */
    public Stream<ByteString> logs(String job, int index, int attempt, LogStream stream, boolean follow) {
        GetTaskLogsRequest request = GetTaskLogsRequest.newBuilder().setName(dev.spillway.api.ResourceNames.attempt(job, index, attempt))
                .setStream(stream).setFollow(follow).build();
        Context.CancellableContext context = Context.current().withCancellation();
        Iterator<GetTaskLogsResponse> chunks = within(context, () -> JobServiceGrpc.newBlockingStub(channel).getTaskLogs(request));
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(chunks, Spliterator.ORDERED | Spliterator.NONNULL), false)
                .map(GetTaskLogsResponse::getData).onClose(() -> context.cancel(null));
    }

    // ---- the other services ----

    /**
     * The connection with the credential attached, for the services this class has no typed
     * methods for: {@code PoolServiceGrpc.newBlockingStub(client.channel())}. Such calls carry no
     * deadline and are not retried unless the caller does it ({@link #stub}, {@link #call}).
     */
    public Channel channel() {
        return channel;
    }

    /** A stub for one unary call with the client's deadline: {@code client.stub(CostServiceGrpc::newBlockingStub).getCostReport(..)}. */
    public <S extends AbstractStub<S>> S stub(Function<Channel, S> factory) {
        return factory.apply(channel).withDeadline(Deadline.after(deadline.toMillis(), TimeUnit.MILLISECONDS));
    }

    /**
     * A read-only or otherwise repeatable unary call with the client's deadline and retries:
     * {@code client.call("GetCostReport", () -> client.stub(CostServiceGrpc::newBlockingStub).getCostReport(request))}.
     */
    public <T> T call(String method, Supplier<T> call) {
        return unary(method, "", false, call);
    }

    /** The field violations of an INVALID_ARGUMENT (empty when it has none). */
    public static List<BadRequest.FieldViolation> violations(StatusRuntimeException e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        if (status == null) return List.of();
        return status.getDetailsList().stream().filter(d -> d.is(BadRequest.class)).flatMap(d -> {
            try {
                return d.unpack(BadRequest.class).getFieldViolationsList().stream();
            } catch (com.google.protobuf.InvalidProtocolBufferException malformed) {
                return Stream.empty();
            }
        }).toList();
    }

    /** Closes the connection this client opened (not one it was given); calls in flight are cancelled. */
    @Override
    public void close() {
        if (owned == null) return;
        owned.shutdownNow();
        try {
            owned.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- retries, paging, resumption ----

    private JobServiceGrpc.JobServiceBlockingStub jobs() {
        return stub(JobServiceGrpc::newBlockingStub);
    }

    private <T> T unary(String method, String requestId, boolean outcomeUnknownIsRetryable, Supplier<T> call) {
        for (int attempt = 1; ; attempt++) {
            try {
                return call.get();
            } catch (StatusRuntimeException e) {
                Optional<Duration> wait = retryAfter(e, outcomeUnknownIsRetryable, attempt);
                if (wait.isEmpty()) throw e;
                onRetry.accept(new Retry(method, attempt, e.getStatus(), wait.get(), requestId));
                sleep(wait.get(), e);
            }
        }
    }

    /** How long to wait before trying again after {@code e} failed try {@code attempt}; empty: do not. */
    private Optional<Duration> retryAfter(StatusRuntimeException e, boolean outcomeUnknownIsRetryable, int attempt) {
        if (attempt >= backoff.attempts()) return Optional.empty();
        Status.Code code = e.getStatus().getCode();
        if (code == Status.Code.UNAVAILABLE || (outcomeUnknownIsRetryable && code == Status.Code.DEADLINE_EXCEEDED)) {
            return Optional.of(backoff.delayBefore(attempt + 1));
        }
        if (code == Status.Code.RESOURCE_EXHAUSTED) return retryInfo(e);
        return Optional.empty();
    }

    /** The wait a RESOURCE_EXHAUSTED asks for; empty when it asks for none (waiting alone would not help). */
    private static Optional<Duration> retryInfo(StatusRuntimeException e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        if (status == null) return Optional.empty();
        return status.getDetailsList().stream().filter(d -> d.is(RetryInfo.class)).findFirst().flatMap(d -> {
            try {
                com.google.protobuf.Duration delay = d.unpack(RetryInfo.class).getRetryDelay();
                return Optional.of(Duration.ofSeconds(delay.getSeconds(), delay.getNanos()));
            } catch (com.google.protobuf.InvalidProtocolBufferException malformed) {
                return Optional.empty();
            }
        });
    }

    private static void sleep(Duration wait, StatusRuntimeException cause) {
        try {
            Thread.sleep(wait.toMillis());
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw cause;
        }
    }

    private <P, T> Stream<T> pages(String method, Function<String, P> fetch, Function<P, List<T>> items, Function<P, String> next) {
        Iterator<T> iterator = new Iterator<>() {
            private Iterator<T> page;
            private String token = "";

            @Override
            public boolean hasNext() {
                while (page == null || !page.hasNext()) {
                    if (page != null && token.isEmpty()) return false;
                    String asked = token;
                    P answer = unary(method, "", false, () -> fetch.apply(asked));
                    page = items.apply(answer).iterator();
                    token = next.apply(answer);
                }
                return true;
            }

            @Override
            public T next() {
                if (!hasNext()) throw new NoSuchElementException();
                return page.next();
            }
        };
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(iterator, Spliterator.ORDERED | Spliterator.NONNULL), false);
    }

    /** A job's watch that reopens itself after the last event received. */
    private final class Watch implements Iterator<WatchJobResponse> {
        private final String job;
        private Long after;
        private Context.CancellableContext context;
        private Iterator<WatchJobResponse> events;
        private long failingSince;
        private int failures;
        private boolean ended;

        Watch(String job, Long after) {
            this.job = job;
            this.after = after;
        }

        @Override
        public boolean hasNext() {
            while (!ended) {
                try {
                    if (events == null) open();
                    if (events.hasNext()) return true;
                    ended = true;
                } catch (StatusRuntimeException e) {
                    resumeAfter(e);
                }
            }
            cancel();
            return false;
        }

        @Override
        public WatchJobResponse next() {
            if (!hasNext()) throw new NoSuchElementException();
            WatchJobResponse event = events.next();
            after = event.getSequence();
            failingSince = 0;
            failures = 0;
            return event;
        }

        private void open() {
            WatchJobRequest.Builder request = WatchJobRequest.newBuilder().setName(job);
            if (after != null) request.setAfterSequence(after);
            context = Context.current().withCancellation();
            events = within(context, () -> JobServiceGrpc.newBlockingStub(channel).watchJob(request.build()));
        }

        private void resumeAfter(StatusRuntimeException e) {
            cancel();
            long now = System.nanoTime();
            if (failingSince == 0) failingSince = now;
            if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || now - failingSince > resumeFor.toNanos()) throw e;
            failures++;
            Duration wait = backoff.delayBefore(Math.min(failures + 1, 16));
            onRetry.accept(new Retry("WatchJob", failures, e.getStatus(), wait, ""));
            sleep(wait, e);
        }

        void cancel() {
            if (context != null) context.cancel(null);
            context = null;
            events = null;
        }
    }

    /** Starts a streaming call in {@code context}, so that cancelling the context cancels the call. */
    private static <T> T within(Context.CancellableContext context, Supplier<T> start) {
        Context previous = context.attach();
        try {
            return start.get();
        } finally {
            context.detach(previous);
        }
    }

    private static ClientInterceptor bearer(String token) {
        Metadata headers = new Metadata();
        headers.put(AUTHORIZATION, "Bearer " + token);
        return MetadataUtils.newAttachHeadersInterceptor(headers);
    }

    /** Settings of a client; {@link #target} (or {@link #channel}) is the one required. */
    public static final class Builder {
        private String target;
        private Channel given;
        private io.grpc.ManagedChannelBuilder<?> transportBuilder;
        private String token;
        private ChannelCredentials credentials;
        private Duration deadline = Duration.ofSeconds(30);
        private Backoff backoff = Backoff.DEFAULT;
        private Duration resumeFor = Duration.ofMinutes(2);
        private Consumer<Retry> onRetry = r -> { };
        private int maxInboundMessageSize = 64 * 1024 * 1024;

        private Builder() {
        }

        /** The broker's address, {@code host:port} (any gRPC target: {@code dns:///brokers.example.com:7070}). */
        public Builder target(String target) {
            this.target = target;
            return this;
        }

        /** An API key ({@code spw_...}) or an OIDC access token; without one, only health answers. */
        public Builder token(String token) {
            this.token = token == null || token.isBlank() ? null : token.trim();
            return this;
        }

        /** TLS, verifying the broker against the CA certificate(s) in this PEM file (e.g. {@code <data-dir>/tls/ca.pem}). */
        public Builder trustCa(Path caPem) {
            try {
                this.credentials = TlsChannelCredentials.newBuilder().trustManager(caPem.toFile()).build();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the CA file " + caPem, e);
            }
            return this;
        }

        /** Plaintext, for a broker started with {@code --insecure} only: neither the broker nor the traffic is protected. */
        public Builder plaintext() {
            this.credentials = InsecureChannelCredentials.create();
            return this;
        }

        /** Any channel credentials (mutual TLS, a custom trust store). The default is TLS trusting the JVM's CAs. */
        public Builder credentials(ChannelCredentials credentials) {
            this.credentials = credentials;
            return this;
        }

        /**
         * A channel made by the caller (its transport, its pooling, maybe its own credential),
         * used instead of one to {@link #target}. The client adds the {@link #token}, if any, to
         * each call and never closes the channel.
         */
        public Builder channel(Channel channel) {
            this.given = channel;
            return this;
        }

        /**
         * The connection built from a channel builder the caller configured (its transport, target
         * and credentials: {@code OkHttpChannelBuilder.forTarget(target, credentials)}); the client
         * owns it and closes it.
         */
        public Builder transport(io.grpc.ManagedChannelBuilder<?> builder) {
            this.transportBuilder = builder;
            return this;
        }

        /** The deadline of each unary try (default 30 s). */
        public Builder deadline(Duration deadline) {
            if (deadline.isNegative() || deadline.isZero()) throw new IllegalArgumentException("deadline must be positive");
            this.deadline = deadline;
            return this;
        }

        /** How calls are retried (default {@link Backoff#DEFAULT}; {@link Backoff#NONE} to never). */
        public Builder retries(Backoff backoff) {
            this.backoff = Objects.requireNonNull(backoff);
            return this;
        }

        /** How long a broken watch keeps trying to reopen while the broker does not answer (default 2 min). */
        public Builder resumeFor(Duration resumeFor) {
            this.resumeFor = Objects.requireNonNull(resumeFor);
            return this;
        }

        /** Told of each try that failed and will be made again (to log it); called on the calling thread. */
        public Builder onRetry(Consumer<Retry> listener) {
            this.onRetry = Objects.requireNonNull(listener);
            return this;
        }

        /** The largest answer accepted (default 64 MiB: a page of large jobs, a cost export). */
        public Builder maxInboundMessageSize(int bytes) {
            this.maxInboundMessageSize = bytes;
            return this;
        }

        public SpillwayClient build() {
            if (given != null || transportBuilder != null) {
                if (target != null || credentials != null || (given != null && transportBuilder != null)) {
                    throw new IllegalStateException("a given channel or transport has its own target and credentials");
                }
                if (given != null) return new SpillwayClient(null, given, token, deadline, backoff, resumeFor, onRetry);
                ManagedChannel built = transportBuilder.maxInboundMessageSize(maxInboundMessageSize).build();
                return new SpillwayClient(built, built, token, deadline, backoff, resumeFor, onRetry);
            }
            if (target == null || target.isBlank()) throw new IllegalStateException("target (host:port of the broker) is required");
            ManagedChannel channel = Grpc.newChannelBuilder(target, credentials != null ? credentials : TlsChannelCredentials.create())
                    .maxInboundMessageSize(maxInboundMessageSize).build();
            return new SpillwayClient(channel, channel, token, deadline, backoff, resumeFor, onRetry);
        }
    }
}
