package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.CreateApiKeyRequest;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.GetTaskLogsResponse;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Clients that misbehave against a real broker (packaged, -Xmx512m) and a real agent: one opens
 * 1,000 watches, one asks for a 1 GiB log and reads nothing, one sends 5,000 bad entries. Each is
 * bounded or refused, other clients keep working, and the broker's heap is sampled throughout
 * (its maximum is printed as "broker heap ...").
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AbuseIT {

    private ClusterFixture fx;
    private final AtomicLong maxHeap = new AtomicLong();
    private final java.util.concurrent.ScheduledExecutorService sampler = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "heap-sampler");
        t.setDaemon(true);
        return t;
    });

    @BeforeAll
    void start() throws Exception {
        fx = new ClusterFixture("abuse", 1, "20s");
        sampler.scheduleAtFixedRate(() -> {
            try {
                String m = fx.metrics();
                long heap = (long) m.lines().filter(l -> l.startsWith("jvm_memory_used_bytes{") && l.contains("area=\"heap\""))
                        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
                maxHeap.accumulateAndGet(heap, Math::max);
            } catch (Exception e) {
                // the broker is busy; the next sample comes
            }
        }, 0, 100, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    @AfterAll
    void stop() {
        sampler.shutdownNow();
        System.out.printf("broker heap max during AbuseIT: %.0f MiB (-Xmx512m)%n", maxHeap.get() / 1048576.0);
        if (fx != null) fx.close();
    }

    private String key(String tenant, String role) {
        return dev.spillway.api.v1.AccessServiceGrpc.newBlockingStub(fx.channel)
                .createApiKey(CreateApiKeyRequest.newBuilder().setTenant(tenant).setRole(role).build()).getSecret();
    }

    @Test
    void aClientReadingNothingFromAHugeLogHoldsABoundedBuffer() throws Exception {
        String id = fx.submit(ClusterFixture.shellJob(1, 500, "head -c 1073741824 /dev/zero"));
        assertThat(ClusterFixture.finishedOk(fx.awaitFinished(id, Duration.ofMinutes(3)))).isTrue();

        double endedBefore = ClusterFixture.metric(fx.metrics(), "spillway_client_streams_ended_total{reason=\"not_reading\"}");
        AtomicLong received = new AtomicLong();
        AtomicReference<ClientCallStreamObserver<GetTaskLogsRequest>> call = new AtomicReference<>();
        CompletableFuture<Status> ended = new CompletableFuture<>();
        JobServiceGrpc.newStub(fx.channel).getTaskLogs(GetTaskLogsRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(id, 0)).build(),
                new ClientResponseObserver<GetTaskLogsRequest, GetTaskLogsResponse>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<GetTaskLogsRequest> requestStream) {
                        call.set(requestStream);
                        requestStream.disableAutoRequestWithInitial(1); // then read nothing
                    }

                    @Override
                    public void onNext(GetTaskLogsResponse value) {
                        received.addAndGet(value.getData().size());
                    }

                    @Override
                    public void onError(Throwable t) {
                        ended.complete(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {
                        ended.complete(Status.OK);
                    }
                });
        // While it reads nothing, the broker keeps serving others.
        await().atMost(Duration.ofSeconds(30)).until(() -> received.get() > 0);
        assertThat(fx.job(id).getJob().getUid()).isEqualTo(id);
        // The broker ends the stream of a client that lets its bound pile up (and says so in a metric).
        await().atMost(Duration.ofMinutes(2)).until(() ->
                ClusterFixture.metric(fx.metrics(), "spillway_client_streams_ended_total{reason=\"not_reading\"}") > endedBefore);
        // Now read everything that is left: the broker must have ended the stream long before the 1 GiB.
        call.get().request(Integer.MAX_VALUE);
        Status status = ended.get(2, java.util.concurrent.TimeUnit.MINUTES);
        System.out.printf("log stream of a client that read nothing: %s after %.1f MiB of 1024%n", status.getCode(), received.get() / 1048576.0);
        assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(status.getDescription()).contains("not reading");
        assertThat(received.get()).as("bytes the client got: the bound plus transport windows").isLessThan(64L << 20);
    }

    @Test
    void aThousandWatchesFromOneCallerAreCappedAndOthersGoOn() throws Exception {
        String id = fx.submit(ClusterFixture.shellJob(1, 100, "sleep 30"));
        ManagedChannel greedy = fx.cluster.channel(key("default", "viewer"));
        AtomicInteger refused = new AtomicInteger();
        AtomicInteger other = new AtomicInteger();
        try {
            for (int i = 0; i < 1000; i++) {
                JobServiceGrpc.newStub(greedy).watchJob(WatchJobRequest.newBuilder().setName(id).build(), new StreamObserver<>() {
                    @Override
                    public void onNext(WatchJobResponse value) {
                    }

                    @Override
                    public void onError(Throwable t) {
                        if (Status.fromThrowable(t).getCode() == Status.Code.RESOURCE_EXHAUSTED) refused.incrementAndGet();
                        else other.incrementAndGet();
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
            }
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(refused.get()).isEqualTo(1000 - 32));
            assertThat(other.get()).isZero();
            assertThat(fx.job(id).getJob().getUid()).as("another caller is served").isEqualTo(id);
            assertThat(JobServiceGrpc.newBlockingStub(fx.channel).watchJob(WatchJobRequest.newBuilder().setName(id).build()).hasNext()).isTrue();
        } finally {
            greedy.shutdownNow();
            JobServiceGrpc.newBlockingStub(fx.channel).cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(id).build());
        }
    }

    @Test
    void fiveThousandBadEntriesGetABoundedRefusal() {
        JobSpec base = ClusterFixture.shellJob(1, 100, "true");
        JobSpec.Builder bad = base.toBuilder();
        for (int i = 0; i < 5000; i++) bad.putLabels("bad key " + i, "x");
        var e = catchThrowableOfType(StatusRuntimeException.class, () -> fx.jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(bad).build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        var violations = Spillway.violations(e);
        assertThat(violations).as("at most 50 listed, then one 'and N more'").hasSizeLessThanOrEqualTo(51);
        assertThat(violations.get(violations.size() - 1).getDescription()).contains("more");
        assertThat(e.getTrailers().toString().length()).as("the trailer stays small").isLessThan(8192);
        assertThat(fx.job(fx.submit(base)).getJob().getSpec().getName()).as("the same channel goes on").isEqualTo("it");
    }
}
