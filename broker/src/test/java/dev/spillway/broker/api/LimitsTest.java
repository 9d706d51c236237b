package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.rpc.RetryInfo;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.core.access.Role;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Limits against abuse over real gRPC: a caller holds at most so many watch streams and the rest
 * are refused with RESOURCE_EXHAUSTED while other callers go on; a tenant over its submission
 * rate is told when to retry, and other tenants are not slowed.
 */
@QuarkusTest
@TestProfile(LimitsTest.Tight.class)
class LimitsTest {

    public static class Tight implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("spillway.limits.streams-per-caller", "8", "spillway.limits.submit-rate", "1", "spillway.limits.submit-burst", "3");
        }
    }

    @TestHTTPResource
    URL url;

    @Inject
    ApiKeys keys;

    @Test
    void aCallerHoldsAtMostItsStreamsAndOthersGoOn() {
        String greedyKey = TestCallers.key(keys, "greedy", Role.SUBMITTER);
        ManagedChannel greedy = TestCallers.channel(url, greedyKey);
        ManagedChannel other = TestCallers.channel(url, TestCallers.key(keys, "greedy", Role.VIEWER));
        try {
            var jobs = JobServiceGrpc.newBlockingStub(greedy);
            String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(JobApiTest.valid()).build()).getUid();
            AtomicInteger refused = new AtomicInteger();
            ConcurrentLinkedQueue<String> otherErrors = new ConcurrentLinkedQueue<>();
            List<Context.CancellableContext> watches = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                Context.CancellableContext context = Context.current().withCancellation();
                watches.add(context);
                context.run(() -> JobServiceGrpc.newStub(greedy).watchJob(WatchJobRequest.newBuilder().setName(id).build(), new StreamObserver<>() {
                    @Override
                    public void onNext(WatchJobResponse value) {
                    }

                    @Override
                    public void onError(Throwable t) {
                        Status s = Status.fromThrowable(t);
                        if (s.getCode() == Status.Code.RESOURCE_EXHAUSTED) refused.incrementAndGet();
                        else if (s.getCode() != Status.Code.CANCELLED) otherErrors.add(s.toString());
                    }

                    @Override
                    public void onCompleted() {
                    }
                }));
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(refused.get()).isEqualTo(92));
            assertThat(otherErrors).isEmpty();
            // Another caller (same tenant, its own key) is not held back.
            assertThat(JobServiceGrpc.newBlockingStub(other).getJob(GetJobRequest.newBuilder().setName(id).build()).getUid())
                    .isEqualTo(id);
            assertThat(JobServiceGrpc.newBlockingStub(other).watchJob(WatchJobRequest.newBuilder().setName(id).build()).hasNext()).isTrue();

            // Closing streams gives their places back.
            watches.forEach(c -> c.cancel(null));
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                try {
                    return JobServiceGrpc.newBlockingStub(greedy).watchJob(WatchJobRequest.newBuilder().setName(id).build()).hasNext();
                } catch (StatusRuntimeException e) {
                    return false;
                }
            });
        } finally {
            greedy.shutdownNow();
            other.shutdownNow();
        }
    }

    @Test
    void aTenantOverItsSubmissionRateIsToldWhenToRetry() throws Exception {
        ManagedChannel busy = TestCallers.channel(url, TestCallers.key(keys, "busy", Role.SUBMITTER));
        ManagedChannel calm = TestCallers.channel(url, TestCallers.key(keys, "calm", Role.SUBMITTER));
        try {
            var jobs = JobServiceGrpc.newBlockingStub(busy);
            SubmitJobRequest one = SubmitJobRequest.newBuilder().setSpec(JobApiTest.valid()).build();
            StatusRuntimeException limited = null;
            for (int i = 0; i < 10 && limited == null; i++) {
                try {
                    jobs.submitJob(one);
                } catch (StatusRuntimeException e) {
                    limited = e;
                }
            }
            assertThat(limited).as("refused within ten quick submissions (burst 3)").isNotNull();
            assertThat(limited.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(limited.getStatus().getDescription()).contains("tenant busy").contains("retry in");
            RetryInfo retry = StatusProto.fromThrowable(limited).getDetailsList().stream().filter(a -> a.is(RetryInfo.class)).findFirst()
                    .orElseThrow().unpack(RetryInfo.class);
            assertThat(retry.getRetryDelay().getSeconds() * 1000 + retry.getRetryDelay().getNanos() / 1_000_000).isBetween(1L, 1100L);

            assertThat(JobServiceGrpc.newBlockingStub(calm).submitJob(one).getUid()).as("another tenant is not slowed").isNotEmpty();
            await().atMost(Duration.ofSeconds(5)).ignoreExceptions().until(() -> !jobs.submitJob(one).getUid().isEmpty());
        } finally {
            busy.shutdownNow();
            calm.shutdownNow();
        }
    }
}
