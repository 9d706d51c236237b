package dev.spillway.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.RetryInfo;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The client against a broker that misbehaves the way real ones do: refusing while it restarts,
 * losing answers, limiting the caller's rate, breaking streams, never answering. The server side
 * is an in-process gRPC server with the real generated service; the end-to-end tests drive the
 * client against a real broker.
 */
class SpillwayClientTest {

    private static final Backoff FAST = new Backoff(5, Duration.ofMillis(5), Duration.ofMillis(20));

    private final Broker broker = new Broker();
    private final List<String> credentials = new CopyOnWriteArrayList<>();
    private final List<SpillwayClient.Retry> retries = new CopyOnWriteArrayList<>();
    private Server server;
    private io.grpc.ManagedChannel channel;
    private SpillwayClient client;

    @BeforeEach
    void start() throws Exception {
        String name = InProcessServerBuilder.generateName();
        ServerInterceptor recordCredential = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                credentials.add(String.valueOf(headers.get(SpillwayClient.AUTHORIZATION)));
                return next.startCall(call, headers);
            }
        };
        server = InProcessServerBuilder.forName(name).directExecutor().addService(ServerInterceptors.intercept(broker, recordCredential)).build().start();
        channel = InProcessChannelBuilder.forName(name).build();
        client = SpillwayClient.builder().channel(channel).token("spw_test").retries(FAST).deadline(Duration.ofMillis(500))
                .onRetry(retries::add).build();
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void aSubmissionWhoseAnswersAreLostIsStoredOnceUnderOneRequestId() {
        broker.loseSubmitAnswers.set(2);

        Job job = client.submit(JobSpecs.shell("true").tasks(3).build());

        assertThat(broker.submissions).hasSize(3);
        assertThat(broker.submissions.stream().map(SubmitJobRequest::getRequestId).distinct()).hasSize(1);
        assertThat(broker.stored).hasSize(1);
        assertThat(job.getName()).isEqualTo(broker.stored.get(0).getName());
        assertThat(retries).extracting(SpillwayClient.Retry::method).containsExactly("SubmitJob", "SubmitJob");
        assertThat(retries.get(0).requestId()).isEqualTo(broker.submissions.get(0).getRequestId());
        assertThat(credentials).allMatch("Bearer spw_test"::equals);
    }

    @Test
    void aSubmissionThatTimesOutIsTriedAgainWithTheSameRequestId() {
        broker.stallSubmits.set(1);

        Job job = client.submit(JobSpecs.shell("true").build(), "my-request");

        assertThat(retries).extracting(r -> r.status().getCode()).containsExactly(Status.Code.DEADLINE_EXCEEDED);
        assertThat(broker.submissions).extracting(SubmitJobRequest::getRequestId).containsExactly("my-request", "my-request");
        assertThat(broker.stored).hasSize(1);
        assertThat(job.getName()).isEqualTo(broker.stored.get(0).getName());
    }

    @Test
    void aReadThatTimesOutIsNotRepeated() {
        broker.stallGets.set(true);

        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> client.getJob("jobs/x"));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(broker.gets.get()).isEqualTo(1);
        assertThat(retries).isEmpty();
    }

    @Test
    void aBrokerThatStaysDownIsGivenUpOnAfterTheLastTry() {
        broker.loseSubmitAnswers.set(100);

        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> client.submit(JobSpecs.shell("true").build()));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(broker.submissions).hasSize(FAST.attempts());
        assertThat(retries).hasSize(FAST.attempts() - 1);
    }

    @Test
    void anInvalidSpecIsRefusedAtOnceWithItsFieldViolations() {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> client.submit(JobSpec.newBuilder().setTaskCount(0).build()));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(SpillwayClient.violations(e)).extracting(BadRequest.FieldViolation::getField).containsExactly("spec.task_count");
        assertThat(broker.submissions).hasSize(1);
        assertThat(retries).isEmpty();
    }

    @Test
    void aRateLimitIsWaitedOutForAsLongAsTheBrokerAsks() {
        broker.rateLimitGets.set(1);

        client.getJob("jobs/x");

        assertThat(broker.gets.get()).isEqualTo(2);
        assertThat(retries).singleElement().satisfies(r -> {
            assertThat(r.status().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(r.delay()).isEqualTo(Duration.ofMillis(30));
        });
    }

    @Test
    void listingsFetchPagesOnlyAsTheyAreRead() {
        for (int i = 0; i < 1234; i++) broker.stored.add(Job.newBuilder().setName("jobs/" + i).build());

        List<String> all = client.listJobs("state = RUNNING").map(Job::getName).toList();

        assertThat(all).hasSize(1234).doesNotHaveDuplicates().startsWith("jobs/0", "jobs/1").endsWith("jobs/1233");
        assertThat(broker.listings).hasSize(3).allMatch(r -> r.getFilter().equals("state = RUNNING") && r.getPageSize() == SpillwayClient.PAGE_SIZE);

        broker.listings.clear();
        assertThat(client.listJobs("").limit(10).toList()).hasSize(10);
        assertThat(broker.listings).hasSize(1);
    }

    @Test
    void aBrokenWatchResumesAfterTheLastEventWithNoneLostOrRepeated() {
        broker.watchScript.add(new int[] {1, 2, 3});
        broker.watchScript.add(new int[] {});
        broker.watchScript.add(new int[] {4, 5});

        List<Long> seen = client.watch("jobs/x").map(WatchJobResponse::getSequence).toList();

        assertThat(seen).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(broker.watches).extracting(r -> r.hasAfterSequence() ? r.getAfterSequence() : -1L).containsExactly(-1L, 3L, 3L);
        assertThat(retries).extracting(SpillwayClient.Retry::method).containsExactly("WatchJob", "WatchJob");
    }

    @Test
    void closingAWatchCancelsItOnTheBroker() throws InterruptedException {
        broker.watchScript.add(new int[] {1});
        broker.holdWatchOpen.set(true);

        try (var events = client.watch("jobs/x")) {
            assertThat(events.iterator().next().getSequence()).isEqualTo(1L);
        }

        assertThat(broker.watchCancelled.await(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void aClientForAnotherCallerSharesTheConnectionAndSendsItsOwnCredential() {
        SpillwayClient other = client.withToken("spw_other");
        other.getJob("jobs/x");
        other.close();
        client.getJob("jobs/y");

        assertThat(credentials).containsExactly("Bearer spw_other", "Bearer spw_test");
    }

    /** A JobService that fails as scripted. */
    private static final class Broker extends JobServiceGrpc.JobServiceImplBase {
        final AtomicInteger loseSubmitAnswers = new AtomicInteger();
        final AtomicInteger stallSubmits = new AtomicInteger();
        final java.util.concurrent.atomic.AtomicBoolean stallGets = new java.util.concurrent.atomic.AtomicBoolean();
        final AtomicInteger rateLimitGets = new AtomicInteger();
        final java.util.concurrent.atomic.AtomicBoolean holdWatchOpen = new java.util.concurrent.atomic.AtomicBoolean();
        final List<SubmitJobRequest> submissions = new CopyOnWriteArrayList<>();
        final List<Job> stored = new CopyOnWriteArrayList<>();
        final AtomicInteger gets = new AtomicInteger();
        final List<ListJobsRequest> listings = new CopyOnWriteArrayList<>();
        final List<int[]> watchScript = new CopyOnWriteArrayList<>();
        final List<WatchJobRequest> watches = new CopyOnWriteArrayList<>();
        final CountDownLatch watchCancelled = new CountDownLatch(1);
        private final java.util.Map<String, Job> byRequest = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public void submitJob(SubmitJobRequest request, StreamObserver<Job> answer) {
            submissions.add(request);
            if (request.getSpec().getTaskCount() < 1) {
                answer.onError(StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(Code.INVALID_ARGUMENT_VALUE)
                        .setMessage("invalid job spec").addDetails(Any.pack(BadRequest.newBuilder().addFieldViolations(BadRequest.FieldViolation
                                .newBuilder().setField("spec.task_count").setDescription("at least 1")).build())).build()));
                return;
            }
            // Like the broker: a request id seen before answers with the job it made.
            Job job = byRequest.computeIfAbsent(request.getRequestId(), id -> {
                Job made = Job.newBuilder().setName("jobs/" + stored.size()).setSpec(request.getSpec()).build();
                stored.add(made);
                return made;
            });
            if (stallSubmits.getAndDecrement() > 0) return; // stored, never answered: the client's deadline passes
            if (loseSubmitAnswers.getAndDecrement() > 0) {
                answer.onError(Status.UNAVAILABLE.withDescription("connection reset").asRuntimeException());
                return;
            }
            answer.onNext(job);
            answer.onCompleted();
        }

        @Override
        public void getJob(GetJobRequest request, StreamObserver<Job> answer) {
            gets.incrementAndGet();
            if (stallGets.get()) return;
            if (rateLimitGets.getAndDecrement() > 0) {
                answer.onError(StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(Code.RESOURCE_EXHAUSTED_VALUE)
                        .setMessage("over the rate").addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(
                                com.google.protobuf.Duration.newBuilder().setNanos(30_000_000)).build())).build()));
                return;
            }
            answer.onNext(Job.newBuilder().setName(request.getName()).build());
            answer.onCompleted();
        }

        @Override
        public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> answer) {
            listings.add(request);
            int from = request.getPageToken().isEmpty() ? 0 : Integer.parseInt(request.getPageToken());
            int to = Math.min(stored.size(), from + request.getPageSize());
            answer.onNext(ListJobsResponse.newBuilder().addAllJobs(new ArrayList<>(stored.subList(from, to)))
                    .setNextPageToken(to < stored.size() ? Integer.toString(to) : "").build());
            answer.onCompleted();
        }

        @Override
        public void watchJob(WatchJobRequest request, StreamObserver<WatchJobResponse> answer) {
            int call = watches.size();
            watches.add(request);
            Context.current().addListener(c -> watchCancelled.countDown(), Runnable::run);
            int[] events = watchScript.get(call);
            for (int sequence : events) answer.onNext(WatchJobResponse.newBuilder().setSequence(sequence).build());
            if (holdWatchOpen.get()) return;
            if (call < watchScript.size() - 1) {
                answer.onError(Status.UNAVAILABLE.withDescription("broker shutting down").asRuntimeException());
            } else {
                answer.onCompleted();
            }
        }
    }
}
