package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Message;
import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.CreateApiKeyRequest;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListAuditEventsRequest;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.RevokeApiKeyRequest;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WhoAmIRequest;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.core.access.Role;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Who may do what, tried for real over gRPC and REST against the broker on embedded PostgreSQL:
 * every method without a credential, every method with a role that does not allow it, and every
 * read and write of one tenant's job by a caller of another. After each refused write the
 * database holds what it held before.
 */
@QuarkusTest
class AccessTest {

    private static final List<ServiceDescriptor> CLIENT_SERVICES = List.of(JobServiceGrpc.getServiceDescriptor(),
            PoolServiceGrpc.getServiceDescriptor(), NodeServiceGrpc.getServiceDescriptor(), AccessServiceGrpc.getServiceDescriptor(),
            dev.spillway.api.v1.PolicyServiceGrpc.getServiceDescriptor());
    private static final List<String> TABLES = List.of("job", "task", "job_label", "api_key", "join_token", "audit_event", "cloud_instance",
            "policy_version");

    @TestHTTPResource
    URL url;

    @Inject
    ApiKeys keys;

    @Inject
    Pool pool;

    private final Map<Role, ManagedChannel> tenantA = new EnumMap<>(Role.class);
    private ManagedChannel submitterB;
    private ManagedChannel anonymous;
    private final List<ManagedChannel> opened = new ArrayList<>();

    @BeforeEach
    void callers() {
        for (Role role : Role.values()) tenantA.put(role, open(TestCallers.key(keys, "team-a", role)));
        submitterB = open(TestCallers.key(keys, "team-b", Role.SUBMITTER));
        anonymous = open(null);
    }

    @AfterEach
    void close() {
        opened.forEach(ManagedChannel::shutdownNow);
    }

    private ManagedChannel open(String credential) {
        ManagedChannel c = TestCallers.channel(url, credential);
        opened.add(c);
        return c;
    }

    private static JobSpec spec() {
        return JobApiTest.valid().toBuilder().setName("access").setTask(JobApiTest.valid().getTask().toBuilder()
                .setResources(JobApiTest.valid().getTask().getResources().toBuilder().setCpuMillis(10))).build();
    }

    private String submitAsA() {
        return JobServiceGrpc.newBlockingStub(tenantA.get(Role.SUBMITTER)).submitJob(SubmitJobRequest.newBuilder().setSpec(spec()).build()).getUid();
    }

    private Map<String, Long> rows() {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (String t : TABLES) {
            counts.put(t, pool.query("SELECT count(*) AS n FROM " + t).execute().await().indefinitely().iterator().next().getLong("n"));
        }
        return counts;
    }

    /** Calls any method with its request's default instance; the status it ended with (OK when it answered). */
    private static Status.Code call(ManagedChannel channel, MethodDescriptor<?, ?> method) {
        StatusRuntimeException refused = refusal(channel, method);
        return refused == null ? Status.Code.OK : refused.getStatus().getCode();
    }

    /** Calls any method with its request's default instance; the error it ended with, or null when it answered. */
    @SuppressWarnings("unchecked")
    private static StatusRuntimeException refusal(ManagedChannel channel, MethodDescriptor<?, ?> method) {
        var m = (MethodDescriptor<Message, Message>) method;
        Message request = (Message) ((MethodDescriptor.PrototypeMarshaller<?>) m.getRequestMarshaller()).getMessagePrototype();
        CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS);
        try {
            if (m.getType() == MethodDescriptor.MethodType.UNARY) {
                ClientCalls.blockingUnaryCall(channel, m, options, request);
            } else {
                ClientCalls.blockingServerStreamingCall(channel, m, options, request).hasNext();
            }
            return null;
        } catch (StatusRuntimeException e) {
            return e;
        }
    }

    private static List<MethodDescriptor<?, ?>> clientMethods() {
        List<MethodDescriptor<?, ?>> all = new ArrayList<>();
        CLIENT_SERVICES.forEach(s -> all.addAll(s.getMethods()));
        return all;
    }

    @Test
    void everyClientMethodHasAnAccessRule() {
        assertThat(clientMethods()).allSatisfy(m -> assertThat(CallerInterceptor.PERMISSIONS).containsKey(m.getFullMethodName()));
    }

    @Test
    void withoutACredentialEveryMethodIsUnauthenticatedAndNothingChanges() {
        Map<String, Long> before = rows();
        for (MethodDescriptor<?, ?> m : clientMethods()) {
            assertThat(call(anonymous, m)).as(m.getFullMethodName()).isEqualTo(Status.Code.UNAUTHENTICATED);
        }
        ManagedChannel garbage = open("spw_not-a-key");
        ManagedChannel agentCredential = open("join.whatever");
        for (MethodDescriptor<?, ?> m : clientMethods()) {
            assertThat(call(garbage, m)).as(m.getFullMethodName()).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(call(agentCredential, m)).as(m.getFullMethodName()).isEqualTo(Status.Code.UNAUTHENTICATED);
        }
        assertThat(rows()).isEqualTo(before);
    }

    @Test
    void everyMethodARoleDoesNotHoldIsPermissionDeniedAndNothingChanges() {
        Map<String, Long> before = rows();
        int denied = 0;
        for (Role role : Role.values()) {
            for (MethodDescriptor<?, ?> m : clientMethods()) {
                if (role.permits(CallerInterceptor.PERMISSIONS.get(m.getFullMethodName()))) continue;
                StatusRuntimeException refused = refusal(tenantA.get(role), m);
                assertThat(refused).as(role + " " + m.getFullMethodName()).isNotNull();
                assertThat(refused.getStatus().getCode()).as(role + " " + m.getFullMethodName()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(ApiErrors.errorInfoOf(refused).getReason()).isEqualTo("PERMISSION_DENIED");
                assertThat(ApiErrors.errorInfoOf(refused).getMetadataMap()).containsEntry("permission",
                        CallerInterceptor.PERMISSIONS.get(m.getFullMethodName()).name().toLowerCase(java.util.Locale.ROOT));
                denied++;
            }
        }
        assertThat(denied).as("the roles below admin are each refused something").isGreaterThan(20);
        assertThat(rows()).isEqualTo(before);
    }

    @Test
    void anotherTenantsJobDoesNotExistForEveryRead() throws Exception {
        String id = submitAsA();
        var b = JobServiceGrpc.newBlockingStub(submitterB).withDeadlineAfter(10, TimeUnit.SECONDS);
        Map<String, Long> before = rows();

        assertNotFound(() -> b.getJob(GetJobRequest.newBuilder().setName(id).build()));
        assertNotFound(() -> b.watchJob(WatchJobRequest.newBuilder().setName(id).build()).hasNext());
        assertNotFound(() -> b.listTasks(dev.spillway.api.v1.ListTasksRequest.newBuilder().setParent(id).build()));
        assertNotFound(() -> b.getTask(dev.spillway.api.v1.GetTaskRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(id, 0)).build()));
        assertNotFound(() -> b.watchJob(WatchJobRequest.newBuilder().setName(id).setAfterSequence(0).build()).hasNext());
        assertNotFound(() -> b.getTaskLogs(GetTaskLogsRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(id, 0)).build()).hasNext());
        assertNotFound(() -> b.cancelJob(CancelJobRequest.newBuilder().setName(id).build()));
        // The refusal reads like an unknown id, so ids of other tenants cannot be probed.
        String unknown = UUID.randomUUID().toString();
        var refused = catchThrowableOfType(StatusRuntimeException.class, () -> b.getJob(GetJobRequest.newBuilder().setName(id).build()));
        var missing = catchThrowableOfType(StatusRuntimeException.class, () -> b.getJob(GetJobRequest.newBuilder().setName(unknown).build()));
        assertThat(refused.getStatus().getDescription().replace(id, "ID")).isEqualTo(missing.getStatus().getDescription().replace(unknown, "ID"));
        assertThat(ApiErrors.errorInfoOf(refused).getMetadataMap()).isEqualTo(Map.of("resource", "jobs/" + id));
        assertThat(ApiErrors.errorInfoOf(missing).getMetadataMap()).isEqualTo(Map.of("resource", "jobs/" + unknown));
        assertThat(ApiErrors.errorInfoOf(refused).getReason()).isEqualTo(ApiErrors.errorInfoOf(missing).getReason()).isEqualTo("NOT_FOUND");

        assertThat(b.listJobs(ListJobsRequest.newBuilder().setPageSize(1000).build()).getJobsList()).noneMatch(j -> j.getUid().equals(id));
        assertThat(b.listJobs(ListJobsRequest.newBuilder().setFilter("tenant = team-a").build()).getJobsList())
                .as("a filter naming another tenant finds nothing of it").isEmpty();
        assertThat(rows()).isEqualTo(before);

        // The same job, for its own tenant and for the roles that see every tenant.
        assertThat(JobServiceGrpc.newBlockingStub(tenantA.get(Role.VIEWER)).getJob(GetJobRequest.newBuilder().setName(id).build()).getUid())
                .isEqualTo(id);
        assertThat(JobServiceGrpc.newBlockingStub(tenantA.get(Role.FINOPS)).listJobs(ListJobsRequest.newBuilder().setFilter("tenant = team-b").build()))
                .isNotNull();

        // REST alike.
        HttpClient http = HttpClient.newHttpClient();
        String bKey = TestCallers.key(keys, "team-b", Role.VIEWER);
        assertThat(get(http, "/api/v1/jobs/" + id, bKey).statusCode()).isEqualTo(404);
        assertThat(get(http, "/api/v1/jobs?pageSize=1000", bKey).body()).doesNotContain(id);
        HttpResponse<String> named = get(http, "/api/v1/jobs?pageSize=1000&filter=" + java.net.URLEncoder.encode("tenant = team-a", java.nio.charset.StandardCharsets.UTF_8), bKey);
        assertThat(named.statusCode()).isEqualTo(200);
        assertThat(named.body()).as("a filter naming another tenant finds nothing of it").doesNotContain(id);
        assertThat(get(http, "/api/v1/jobs?filter=tenant", bKey).statusCode()).as("a filter that cannot be read").isEqualTo(400);
        String aKey = TestCallers.key(keys, "team-a", Role.VIEWER);
        assertThat(get(http, "/api/v1/jobs/" + id, aKey).statusCode()).isEqualTo(200);
        assertThat(get(http, "/api/v1/jobs?pageSize=1000", aKey).body()).contains(id);
    }

    @Test
    void restRoutesNeedACredentialAndTheRightRole() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (String route : List.of("/api/v1/jobs", "/api/v1/jobs/" + UUID.randomUUID(), "/api/v1/nodes", "/api/v1/pools",
                "/api/v1/policies", "/api/v1/policies/versions", AgentJarResource.PATH, "/q/metrics")) {
            HttpResponse<String> r = get(http, route, null);
            assertThat(r.statusCode()).as(route).isEqualTo(401);
            assertThat(r.headers().firstValue("content-type")).as(route).hasValueSatisfying(v -> assertThat(v).startsWith("application/problem+json"));
            assertThat(r.headers().firstValue("www-authenticate")).as(route).hasValue("Bearer");
            assertThat(get(http, route, "spw_wrong").statusCode()).as(route).isEqualTo(401);
        }
        String operator = TestCallers.key(keys, "team-a", Role.OPERATOR);
        assertThat(get(http, "/api/v1/jobs", operator).statusCode()).isEqualTo(403);
        assertThat(get(http, "/api/v1/nodes", operator).statusCode()).isEqualTo(200);
        // The policies are every tenant's rules and quotas: finops and operators read them, a tenant's submitter does not.
        String submitter = TestCallers.key(keys, "team-b", Role.SUBMITTER);
        assertThat(get(http, "/api/v1/policies", submitter).statusCode()).isEqualTo(403);
        assertThat(get(http, "/api/v1/policies/versions", submitter).statusCode()).isEqualTo(403);
        assertThat(get(http, "/api/v1/policies", operator).statusCode()).isEqualTo(200);
        assertThat(get(http, "/api/v1/policies/versions", TestCallers.key(keys, "team-a", Role.FINOPS)).statusCode()).isEqualTo(200);
        assertThat(get(http, "/q/health/ready", null).statusCode()).as("probes need no credential").isEqualTo(200);
    }

    @Test
    void theGrpcHealthServiceAnswersWithoutACredentialAndKnowsNoServiceItDoesNotServe() {
        var channel = TestCallers.channel(url, null);
        try {
            var health = grpc.health.v1.HealthGrpc.newBlockingStub(channel);
            for (String served : List.of("", "spillway.v1.JobService", "spillway.agent.v1.AgentService")) {
                assertThat(health.check(grpc.health.v1.HealthOuterClass.HealthCheckRequest.newBuilder().setService(served).build()).getStatus())
                        .as("'%s'", served).isEqualTo(grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus.SERVING);
            }
            for (String unknown : List.of("spillway.v1.NoSuchService", "spillway.v1.AgentService")) {
                var refused = catchThrowableOfType(StatusRuntimeException.class,
                        () -> health.check(grpc.health.v1.HealthOuterClass.HealthCheckRequest.newBuilder().setService(unknown).build()));
                assertThat(refused.getStatus().getCode()).as("'%s'", unknown).isEqualTo(Status.Code.NOT_FOUND);
            }
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void aJobBelongsToItsCallersTenant() {
        var a = JobServiceGrpc.newBlockingStub(tenantA.get(Role.SUBMITTER));
        String id = a.submitJob(SubmitJobRequest.newBuilder().setSpec(spec()).build()).getUid();
        assertThat(a.getJob(GetJobRequest.newBuilder().setName(id).build()).getSpec().getTenant()).isEqualTo("team-a");

        Map<String, Long> before = rows();
        var other = catchThrowableOfType(StatusRuntimeException.class,
                () -> a.submitJob(SubmitJobRequest.newBuilder().setSpec(spec().toBuilder().setTenant("team-b")).build()));
        assertThat(other.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(ApiErrors.errorInfoOf(other).getReason()).isEqualTo("TENANT_NOT_ALLOWED");
        assertThat(ApiErrors.errorInfoOf(other).getMetadataMap()).containsEntry("tenant", "team-b");
        assertThat(rows()).isEqualTo(before);

        var admin = JobServiceGrpc.newBlockingStub(tenantA.get(Role.ADMIN));
        String forB = admin.submitJob(SubmitJobRequest.newBuilder().setSpec(spec().toBuilder().setTenant("team-b")).build()).getUid();
        assertThat(JobServiceGrpc.newBlockingStub(submitterB).getJob(GetJobRequest.newBuilder().setName(forB).build()).getUid())
                .isEqualTo(forB);
    }

    @Test
    void apiKeysAreCreatedUsedRevokedAndExpire() {
        var admin = AccessServiceGrpc.newBlockingStub(tenantA.get(Role.ADMIN));
        var created = admin.createApiKey(CreateApiKeyRequest.newBuilder().setTenant("team-c").setRole("viewer").setDisplayName("ci").build());
        assertThat(created.getSecret()).startsWith("spw_");
        assertThat(created.getKey().getPrefix()).isEqualTo(created.getSecret().substring(0, 8));
        Map<String, Long> hashes = new LinkedHashMap<>();
        pool.query("SELECT secret_hash FROM api_key").execute().await().indefinitely()
                .forEach(r -> hashes.put(r.getString("secret_hash"), 1L));
        assertThat(hashes.keySet()).as("only hashes are stored").noneMatch(h -> h.contains(created.getSecret().substring(4)));

        ManagedChannel viewer = open(created.getSecret());
        var who = AccessServiceGrpc.newBlockingStub(viewer).whoAmI(WhoAmIRequest.getDefaultInstance());
        assertThat(who.getRole()).isEqualTo("viewer");
        assertThat(who.getTenantsList()).containsExactly("team-c");
        await().atMost(Duration.ofSeconds(10)).until(() -> admin.listApiKeys(dev.spillway.api.v1.ListApiKeysRequest.getDefaultInstance())
                .getKeysList().stream().anyMatch(k -> k.getUid().equals(created.getKey().getUid()) && k.hasLastUsedTime()));

        assertThat(created.getKey().getName()).isEqualTo("apiKeys/" + created.getKey().getUid());
        var asRevoked = admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(created.getKey().getName()).build());
        assertThat(asRevoked.getName()).isEqualTo(created.getKey().getName());
        assertThat(asRevoked.hasRevokeTime()).as("revoke returns the key as revoked").isTrue();
        assertThat(admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(created.getKey().getUid()).build()).getRevokeTime())
                .as("again, by its bare id: nothing changes").isEqualTo(asRevoked.getRevokeTime());
        assertThat(admin.listApiKeys(dev.spillway.api.v1.ListApiKeysRequest.newBuilder().setFilter("tenant = team-c AND -revoke_time:*").build())
                .getKeysList()).noneMatch(k -> k.getUid().equals(created.getKey().getUid()));
        assertThat(admin.listApiKeys(dev.spillway.api.v1.ListApiKeysRequest.newBuilder().setFilter("tenant = team-c AND revoke_time:*").build())
                .getKeysList()).extracting(k -> k.getUid()).contains(created.getKey().getUid());
        var revoked = catchThrowableOfType(StatusRuntimeException.class,
                () -> AccessServiceGrpc.newBlockingStub(viewer).whoAmI(WhoAmIRequest.getDefaultInstance()));
        assertThat(revoked.getStatus().getCode()).as("refused at once").isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(revoked.getStatus().getDescription()).contains("revoked");

        var shortLived = admin.createApiKey(CreateApiKeyRequest.newBuilder().setTenant("team-c").setRole("viewer")
                .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(1)).build());
        ManagedChannel expiring = open(shortLived.getSecret());
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            try {
                AccessServiceGrpc.newBlockingStub(expiring).whoAmI(WhoAmIRequest.getDefaultInstance());
                return false;
            } catch (StatusRuntimeException e) {
                return e.getStatus().getCode() == Status.Code.UNAUTHENTICATED && e.getStatus().getDescription().contains("expired");
            }
        });

        var missing = catchThrowableOfType(StatusRuntimeException.class,
                () -> admin.createApiKey(CreateApiKeyRequest.newBuilder().setRole("viewer").build()));
        assertThat(missing.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(Spillways.violations(missing)).contains("tenant");
        var invalid = catchThrowableOfType(StatusRuntimeException.class,
                () -> admin.createApiKey(CreateApiKeyRequest.newBuilder().setTenant(" ").setRole("root").build()));
        assertThat(invalid.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(Spillways.violations(invalid)).contains("tenant", "role");
    }

    @Test
    void theAuditLogSaysWhoDidWhat() {
        String id = submitAsA();
        JobServiceGrpc.newBlockingStub(tenantA.get(Role.SUBMITTER)).cancelJob(CancelJobRequest.newBuilder().setName(id).build());
        var events = AccessServiceGrpc.newBlockingStub(tenantA.get(Role.ADMIN))
                .listAuditEvents(ListAuditEventsRequest.newBuilder().setPageSize(1000).build()).getEventsList();
        assertThat(events).filteredOn(e -> e.getTarget().equals(id)).extracting(e -> e.getAction())
                .containsExactly("job.cancel", "job.submit");
        var filtered = AccessServiceGrpc.newBlockingStub(tenantA.get(Role.ADMIN))
                .listAuditEvents(ListAuditEventsRequest.newBuilder().setFilter("target = \"" + id + "\" AND action = job.submit").build()).getEventsList();
        assertThat(filtered).singleElement().satisfies(e -> assertThat(e.getAction()).isEqualTo("job.submit"));
        assertThat(events).filteredOn(e -> e.getTarget().equals(id)).allSatisfy(e -> {
            assertThat(e.getActor()).startsWith("apikey:");
            assertThat(e.getTenant()).isEqualTo("team-a");
            assertThat(e.getRemoteAddress()).contains("127.0.0.1");
        });
        assertThat(events).anyMatch(e -> e.getAction().equals("apikey.create"));
    }

    private HttpResponse<String> get(HttpClient http, String path, String credential) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(url.toString()).resolve(path));
        if (credential != null) r.header("Authorization", "Bearer " + credential);
        return http.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void assertNotFound(Runnable call) {
        var e = catchThrowableOfType(StatusRuntimeException.class, call::run);
        assertThat(e).as("refused").isNotNull();
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    }

    /** Field names of an INVALID_ARGUMENT's violations. */
    static final class Spillways {
        static List<String> violations(StatusRuntimeException e) {
            var status = io.grpc.protobuf.StatusProto.fromThrowable(e);
            List<String> fields = new ArrayList<>();
            for (var any : status.getDetailsList()) {
                try {
                    any.unpack(com.google.rpc.BadRequest.class).getFieldViolationsList().forEach(v -> fields.add(v.getField()));
                } catch (com.google.protobuf.InvalidProtocolBufferException ignored) {
                    // another detail
                }
            }
            return fields;
        }
    }
}
