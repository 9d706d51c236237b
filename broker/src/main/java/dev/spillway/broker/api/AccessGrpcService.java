package dev.spillway.broker.api;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.ApiKey;
import dev.spillway.api.v1.AuditEvent;
import dev.spillway.api.v1.CreateApiKeyRequest;
import dev.spillway.api.v1.CreateApiKeyResponse;
import dev.spillway.api.v1.ListApiKeysRequest;
import dev.spillway.api.v1.ListApiKeysResponse;
import dev.spillway.api.v1.ListAuditEventsRequest;
import dev.spillway.api.v1.ListAuditEventsResponse;
import dev.spillway.api.v1.RevokeApiKeyRequest;
import dev.spillway.api.v1.RevokeApiKeyResponse;
import dev.spillway.api.v1.WhoAmIRequest;
import dev.spillway.api.v1.WhoAmIResponse;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.broker.store.ApiKeyStore;
import dev.spillway.broker.store.AuditStore;
import dev.spillway.core.access.Caller;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.TreeSet;
import java.util.UUID;

/** spillway.v1.AccessService: who am I, API keys, and the audit log. Roles are checked by {@link CallerInterceptor}. */
@GrpcService
public class AccessGrpcService extends AccessServiceGrpc.AccessServiceImplBase {

    private static final int MAX_AUDIT_PAGE = 1000;

    private final ApiKeys keys;
    private final AuditStore audit;

    public AccessGrpcService(ApiKeys keys, AuditStore audit) {
        this.keys = keys;
        this.audit = audit;
    }

    @Override
    public void whoAmI(WhoAmIRequest request, StreamObserver<WhoAmIResponse> out) {
        Caller c = CallerInterceptor.caller();
        WhoAmIResponse.Builder b = WhoAmIResponse.newBuilder().setSubject(c.subject()).setRole(c.role().label())
                .setAllTenants(c.role().seesAllTenants()).addTenants(c.defaultTenant());
        new TreeSet<>(c.tenants()).stream().filter(t -> !t.equals(c.defaultTenant())).forEach(b::addTenants);
        out.onNext(b.build());
        out.onCompleted();
    }

    @Override
    public void createApiKey(CreateApiKeyRequest request, StreamObserver<CreateApiKeyResponse> out) {
        Duration ttl = request.hasTtl() ? Duration.ofSeconds(request.getTtl().getSeconds(), request.getTtl().getNanos()) : null;
        ApiErrors.respond(keys.create(CallerInterceptor.caller(), request.getTenant(), request.getRole(), ttl, request.getName(), CallerInterceptor.remote())
                .map(created -> CreateApiKeyResponse.newBuilder().setKey(key(created.key())).setSecret(created.secret()).build()), out);
    }

    @Override
    public void listApiKeys(ListApiKeysRequest request, StreamObserver<ListApiKeysResponse> out) {
        ApiErrors.respond(keys.list().map(rows -> ListApiKeysResponse.newBuilder().addAllKeys(rows.stream().map(AccessGrpcService::key).toList()).build()),
                out);
    }

    @Override
    public void revokeApiKey(RevokeApiKeyRequest request, StreamObserver<RevokeApiKeyResponse> out) {
        Caller caller = CallerInterceptor.caller();
        String remote = CallerInterceptor.remote();
        ApiErrors.respond(Uni.createFrom().deferred(() -> keys.revoke(id(request.getId()), caller, remote))
                .map(v -> RevokeApiKeyResponse.getDefaultInstance()), out);
    }

    @Override
    public void listAuditEvents(ListAuditEventsRequest request, StreamObserver<ListAuditEventsResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            int size = request.getPageSize() == 0 ? 100 : request.getPageSize();
            if (size < 1 || size > MAX_AUDIT_PAGE) throw InvalidRequest.of("page_size", "must be between 1 and " + MAX_AUDIT_PAGE);
            long before;
            try {
                before = request.getPageToken().isEmpty() ? 0 : Long.parseLong(request.getPageToken());
            } catch (NumberFormatException e) {
                throw InvalidRequest.of("page_token", "not a token from ListAuditEvents");
            }
            return audit.page(size + 1, before, request.getAction().isEmpty() ? null : request.getAction()).map(rows -> {
                boolean more = rows.size() > size;
                var page = more ? rows.subList(0, size) : rows;
                ListAuditEventsResponse.Builder b = ListAuditEventsResponse.newBuilder();
                for (AuditStore.EventRow r : page) {
                    AuditEvent.Builder e = AuditEvent.newBuilder().setSeq(r.seq()).setTime(timestamp(r.at())).setActor(r.actor())
                            .setAction(r.action()).setTarget(r.target()).setDetail(r.detail());
                    if (r.tenant() != null) e.setTenant(r.tenant());
                    if (r.remote() != null) e.setRemoteAddress(r.remote());
                    b.addEvents(e);
                }
                if (more) b.setNextPageToken(Long.toString(page.get(page.size() - 1).seq()));
                return b.build();
            });
        }), out);
    }

    private static UUID id(String value) {
        try {
            return UUID.fromString(value);
        } catch (IllegalArgumentException e) {
            throw InvalidRequest.of("id", "not an API key id (a UUID): '" + value + "'");
        }
    }

    static ApiKey key(ApiKeyStore.KeyRow r) {
        ApiKey.Builder b = ApiKey.newBuilder().setId(r.id().toString()).setName(r.name()).setTenant(r.tenant()).setRole(r.role())
                .setCreatedBy(r.createdBy()).setCreateTime(timestamp(r.createdAt())).setPrefix(r.prefix());
        if (r.expiresAt() != null) b.setExpireTime(timestamp(r.expiresAt()));
        if (r.revokedAt() != null) b.setRevokeTime(timestamp(r.revokedAt()));
        if (r.lastUsedAt() != null) b.setLastUsedTime(timestamp(r.lastUsedAt()));
        return b.build();
    }

    private static Timestamp timestamp(OffsetDateTime t) {
        return Timestamp.newBuilder().setSeconds(t.toEpochSecond()).setNanos(t.getNano()).build();
    }
}
