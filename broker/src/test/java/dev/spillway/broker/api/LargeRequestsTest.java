package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.rpc.BadRequest;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Report;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskTemplate;
import dev.spillway.broker.admission.JobSpecValidator;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.core.access.Role;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Big requests over real gRPC: thousands of problems make one readable error (50 violations and "and N more") that
 * arrives at once and leaves the connection usable; a spec above {@code spillway.limits.max-spec-bytes} is refused
 * naming the limit; agents' registrations and reports above that size still go through.
 */
@QuarkusTest
class LargeRequestsTest {

    /** What grpc-java and C-core accept as metadata by default; a larger trailer breaks the client or its connection. */
    private static final int CLIENT_METADATA_LIMIT = 8192;

    @TestHTTPResource
    URL url;

    @Inject
    BrokerConfig config;

    @Inject
    ApiKeys keys;

    private ManagedChannel channel;
    private final AtomicReference<Metadata> lastTrailers = new AtomicReference<>();

    @BeforeEach
    void connect() {
        Metadata credential = new Metadata();
        credential.put(CallerInterceptor.AUTHORIZATION, "Bearer " + TestCallers.key(keys, "default", Role.ADMIN));
        channel = ManagedChannelBuilder.forAddress(url.getHost(), url.getPort()).usePlaintext()
                .intercept(trailerRecorder(), MetadataUtils.newAttachHeadersInterceptor(credential)).build();
    }

    @AfterEach
    void disconnect() {
        channel.shutdownNow();
    }

    private JobServiceGrpc.JobServiceBlockingStub jobs() {
        return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    }

    static JobSpec.Builder valid() {
        return JobSpec.newBuilder().setName("large-requests").setTaskCount(1)
                .setTask(TaskTemplate.newBuilder().addCommand("true").setResources(Resources.newBuilder().setCpuMillis(100).setMemoryMib(16)));
    }

    @Test
    void fiveThousandBadEntriesMakeFiftyViolationsAndOneMoreAndTheChannelKeepsWorking() {
        JobSpec.Builder spec = valid();
        IntStream.range(0, 5000).forEach(i -> spec.getTaskBuilder().addPools("not a pool #" + i));

        long started = System.nanoTime();
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()));
        Duration took = Duration.ofNanos(System.nanoTime() - started);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(took).isLessThan(Duration.ofSeconds(5));
        List<BadRequest.FieldViolation> v = violations(e);
        assertThat(v).hasSize(51);
        assertThat(v.get(0).getField()).isEqualTo("spec.task.pools");
        assertThat(v.get(0).getDescription()).isEqualTo("at most 64 pools (got 5000)");
        assertThat(v.subList(1, 50)).extracting(BadRequest.FieldViolation::getField)
                .containsExactlyElementsOf(IntStream.range(0, 49).mapToObj(i -> "spec.task.pools[" + i + "]").toList());
        assertThat(v.get(50).getField()).isEqualTo("spec.task.pools");
        assertThat(v.get(50).getDescription()).startsWith("and 4951 more violations");
        assertThat(e.getStatus().getDescription()).startsWith("invalid request: 5001 problems, first: spec.task.pools: at most 64 pools");
        assertThat(trailerBytes(lastTrailers.get(), e.getStatus())).isLessThan(CLIENT_METADATA_LIMIT / 2);

        // The same channel (the same HTTP/2 connection) serves the next call.
        String id = jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(valid()).build()).getUid();
        assertThat(UUID.fromString(id)).isNotNull();
    }

    @Test
    void longFieldsAndDescriptionsAreCutSoTheTrailerStaysSmall() {
        JobSpec.Builder spec = valid();
        // Label keys end up in field paths; each is far too long and not ASCII.
        IntStream.range(0, 30).forEach(i -> spec.putLabels("ключ-" + i + "-" + "é".repeat(2000), "v"));
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        List<BadRequest.FieldViolation> v = violations(e);
        assertThat(v).allSatisfy(f -> {
            assertThat(f.getField().getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(128);
            assertThat(f.getDescription().getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(256);
        });
        assertThat(v.get(0).getField()).startsWith("spec.labels").endsWith("…");
        assertThat(v.get(v.size() - 1).getDescription()).contains("more violation");
        assertThat(trailerBytes(lastTrailers.get(), e.getStatus())).isLessThan(CLIENT_METADATA_LIMIT * 3 / 4);
    }

    @Test
    void aSpecAboveTheSizeLimitIsRefusedNamingTheLimit() {
        JobSpec.Builder spec = valid();
        IntStream.range(0, 40_000).forEach(i -> spec.getTaskBuilder().addPools("p" + i)); // about 300 KiB
        assertThat(spec.build().getSerializedSize()).isGreaterThan(256 * 1024);
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        List<BadRequest.FieldViolation> v = violations(e);
        assertThat(v).hasSize(1);
        assertThat(v.get(0).getField()).isEqualTo("spec");
        assertThat(v.get(0).getDescription()).contains("at most 262144 bytes").contains("spillway.limits.max-spec-bytes");
    }

    @Test
    void aMessageAboveTheInboundLimitIsRefusedAndTheChannelKeepsWorking() {
        JobSpec.Builder spec = valid();
        spec.getTaskBuilder().addCommand("x".repeat(9 * 1024 * 1024));
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(valid()).build()).getUid()).isNotEmpty();
    }

    @Test
    void listsOfMoreThanSixtyFourPoolsJurisdictionsOrSelectorEntriesAreRefused() {
        JobSpec.Builder spec = valid();
        IntStream.range(0, 65).forEach(i -> {
            spec.getTaskBuilder().addPools("pool-" + i).addJurisdictions("j" + i).putNodeSelector("k" + i, "v");
        });
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()));
        assertThat(violations(e)).extracting(BadRequest.FieldViolation::getField, BadRequest.FieldViolation::getDescription).containsExactly(
                org.assertj.core.groups.Tuple.tuple("spec.task.node_selector", "at most 64 entries (got 65)"),
                org.assertj.core.groups.Tuple.tuple("spec.task.pools", "at most 64 pools (got 65)"),
                org.assertj.core.groups.Tuple.tuple("spec.task.jurisdictions", "at most 64 jurisdictions (got 65)"));

        // 64 of each pass validation (whether some node could hold the job is the next admission step's business).
        JobSpec.Builder ok = valid();
        IntStream.range(0, 64).forEach(i -> ok.getTaskBuilder().addPools("pool-" + i).addJurisdictions("j" + i).putNodeSelector("k" + i, "v"));
        assertThat(new JobSpecValidator(config.limits()).validate(ok.build()).violations()).isEmpty();
    }

    @Test
    void agentMessagesLargerThanASpecStillGoThrough() {
        // A registration re-sends the attempts of the last minutes; thousands of them are far above 256 KiB.
        Register.Builder register = Register.newBuilder().setNodeName("large-register-node").setPool("onprem")
                .setCapacity(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(1024));
        Report.Builder report = Report.newBuilder();
        for (int i = 0; i < 6000; i++) {
            AttemptStatus a = AttemptStatus.newBuilder().setJobId(UUID.randomUUID().toString()).setTaskIndex(i).setAttempt(1)
                    .setState(AttemptState.ATTEMPT_STATE_EXITED).setExitCode(0).setMessage("finished while the broker was away").build();
            register.addAttempts(a);
            report.addAttempts(a);
        }
        assertThat(register.build().getSerializedSize()).isGreaterThan(400 * 1024);
        try (FakeAgent agent = new FakeAgent(url.getHost(), url.getPort(), "large-register-node", "test-agent-token")) {
            agent.send(ConnectRequest.newBuilder().setRegister(register).build());
            await().atMost(Duration.ofSeconds(20)).until(() -> agent.registered() != null || agent.error != null);
            assertThat(agent.error).isNull();
            assertThat(agent.registered()).isNotNull();
            agent.send(ConnectRequest.newBuilder().setReport(report).build());
            agent.send(ConnectRequest.newBuilder().setReport(Report.getDefaultInstance()).build());
            // Still connected: the node stays ready while it reports.
            await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> agent.error == null);
        }
    }

    private static List<BadRequest.FieldViolation> violations(StatusRuntimeException e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        assertThat(status).as("google.rpc.Status in the trailers").isNotNull();
        return status.getDetailsList().stream().filter(a -> a.is(BadRequest.class)).flatMap(a -> {
            try {
                return a.unpack(BadRequest.class).getFieldViolationsList().stream();
            } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                throw new AssertionError(x);
            }
        }).toList();
    }

    /**
     * Size of the status trailer as sent: every metadata entry (binary ones base64-encoded) plus grpc-status and the
     * percent-encoded grpc-message, which grpc-java takes out of the metadata.
     */
    private static int trailerBytes(Metadata trailers, Status status) {
        int size = "grpc-status".length() + 2;
        if (status.getDescription() != null) size += "grpc-message".length() + StatusMessageEncoding.encode(status.getDescription()).length();
        for (String key : trailers.keys()) {
            if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
                for (byte[] value : trailers.getAll(Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER))) {
                    size += key.length() + (value.length + 2) / 3 * 4;
                }
            } else {
                for (String value : trailers.getAll(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER))) size += key.length() + value.length();
            }
        }
        return size;
    }

    private ClientInterceptor trailerRecorder() {
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                            @Override
                            public void onClose(Status status, Metadata trailers) {
                                lastTrailers.set(trailers);
                                super.onClose(status, trailers);
                            }
                        }, headers);
                    }
                };
            }
        };
    }
}
