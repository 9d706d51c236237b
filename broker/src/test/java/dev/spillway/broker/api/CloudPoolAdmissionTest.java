package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.rpc.BadRequest;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.broker.burst.CloudPools;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
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
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A job that would burst is not refused: a cloud pool's instances count as the nodes they will be, with the labels
 * their join tokens fix ({@code spillway.dev/cloud}, {@code spillway.dev/jurisdiction}, {@code spillway.dev/spot},
 * {@code spillway.dev/instance-type}, {@code spillway.dev/zone}) and the sizes of the offerings the pool may buy. The
 * pool may spend nothing, so nothing is ever launched here.
 */
@QuarkusTest
@TestProfile(CloudPoolAdmissionTest.FrankfurtPool.class)
class CloudPoolAdmissionTest {

    public static class FrankfurtPool implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("spillway.pools.burst-fra.kind", "local", "spillway.pools.burst-fra.catalog", "aws-eu-central-1",
                    "spillway.pools.burst-fra.max-spend-usd-per-hour", "0", "spillway.pools.burst-fra.burst-after", "1h");
        }
    }

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    CloudPools cloud;

    private ManagedChannel channel;
    private JobServiceGrpc.JobServiceBlockingStub jobs;
    private final List<String> admitted = new ArrayList<>();

    @BeforeEach
    void connect() {
        channel = TestCallers.channel(url, TestCallers.key(keys, "default", Role.ADMIN));
        jobs = JobServiceGrpc.newBlockingStub(channel);
        // The burst controller reads the pool's offerings on its first cycles; until then any size and type is admitted.
        await().atMost(Duration.ofSeconds(20)).until(() -> !cloud.get("burst-fra").offerings().isEmpty());
    }

    @AfterEach
    void cancelAndDisconnect() {
        admitted.forEach(id -> jobs.cancelJob(CancelJobRequest.newBuilder().setName(id).build()));
        channel.shutdownNow();
    }

    private static JobSpec.Builder spec(UnaryOperator<JobSpec.Builder> change) {
        return change.apply(JobApiTest.valid().toBuilder().setTaskCount(1));
    }

    private void admitted(UnaryOperator<JobSpec.Builder> change) {
        admitted.add(jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec(change)).build()).getUid());
    }

    private BadRequest.FieldViolation refused(UnaryOperator<JobSpec.Builder> change) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec(change)).build()));
        assertThat(e).as("the submission must be refused").isNotNull();
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        List<BadRequest.FieldViolation> v = StatusProto.fromThrowable(e).getDetailsList().stream().filter(a -> a.is(BadRequest.class))
                .flatMap(a -> {
                    try {
                        return a.unpack(BadRequest.class).getFieldViolationsList().stream();
                    } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                        throw new AssertionError(x);
                    }
                }).toList();
        assertThat(v).hasSize(1);
        return v.get(0);
    }

    @Test
    void whatTheCloudPoolsInstancesWillCarryIsAdmitted() {
        admitted(b -> {
            b.getTaskBuilder().addPools("burst-fra").addJurisdictions("EU").putNodeSelector("spillway.dev/cloud", "true")
                    .putNodeSelector("spillway.dev/instance-type", "g4dn.xlarge").putNodeSelector("spillway.dev/zone", "eu-central-1a")
                    .getResourcesBuilder().setCpuMillis(4000).setMemoryMib(16_384).setGpus(1);
            return b;
        });
        // Spot instances, for a task that tolerates them.
        admitted(b -> {
            b.getTaskBuilder().setSpotTolerant(true).putNodeSelector("spillway.dev/spot", "true").addPools("burst-fra");
            return b;
        });
    }

    @Test
    void whatTheyWillNotCarryIsRefusedSayingWhatTheyDo() {
        var type = refused(b -> {
            b.getTaskBuilder().addPools("burst-fra").putNodeSelector("spillway.dev/instance-type", "p5.48xlarge");
            return b;
        });
        assertThat(type.getField()).isEqualTo("spec.task.node_selector");
        assertThat(type.getDescription()).contains("spillway.dev/instance-type=p5.48xlarge").contains("c5.large");

        var jurisdiction = refused(b -> {
            b.getTaskBuilder().addPools("burst-fra").addJurisdictions("US");
            return b;
        });
        assertThat(jurisdiction.getField()).isEqualTo("spec.task.jurisdictions");
        assertThat(jurisdiction.getDescription()).contains("jurisdictions there: EU");

        var spot = refused(b -> {
            b.getTaskBuilder().addPools("burst-fra").putNodeSelector("spillway.dev/spot", "true");
            return b;
        });
        assertThat(spot.getField()).isEqualTo("spec.task.spot_tolerant");

        var size = refused(b -> {
            b.getTaskBuilder().addPools("burst-fra").getResourcesBuilder().setCpuMillis(8000).setMemoryMib(16_384).setGpus(1);
            return b;
        });
        assertThat(size.getField()).isEqualTo("spec.task.resources");
        assertThat(size.getDescription()).contains("8 cpu, 16 GiB, 1 gpu");
    }
}
