package dev.spillway.broker.api;

import com.google.protobuf.Timestamp;
import dev.spillway.api.ResourceNames;
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
import dev.spillway.api.v1.WhoAmIRequest;
import dev.spillway.api.v1.WhoAmIResponse;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.listing.Filters;
import dev.spillway.broker.listing.Pages;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.broker.store.ApiKeyStore;
import dev.spillway.broker.store.AuditStore;
import dev.spillway.core.access.Caller;
import dev.spillway.core.filter.Condition;
import dev.spillway.core.filter.FilterSchema;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Comparator;
import java.util.List;
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
        ApiErrors.respond(keys.create(CallerInterceptor.caller(), request.getTenant(), request.getRole(), ttl, request.getDisplayName(), CallerInterceptor.remote())
                .map(created -> CreateApiKeyResponse.newBuilder().setKey(key(created.key())).setSecret(created.secret()).build()), out);
    }

    /** What ListApiKeys can be filtered by (AIP-160). */
    static final FilterSchema KEY_FILTER = FilterSchema.builder()
            .text("tenant")
            .text("role")
            .time("create_time")
            .time("expire_time")
            .time("revoke_time")
            .time("last_used_time")
            .build();

    @Override
    public void listApiKeys(ListApiKeysRequest request, StreamObserver<ListApiKeysResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            int size = Pages.size(request.getPageSize(), 100, 1000);
            Condition filter = Filters.parse(KEY_FILTER, request.getFilter());
            return keys.list().map(rows -> {
                // Newest first: the paging key counts down with the creation time.
                List<ApiKeyStore.KeyRow> sorted = rows.stream().filter(r -> filter.test(field -> switch (field) {
                    case "tenant" -> r.tenant();
                    case "role" -> r.role();
                    case "create_time" -> instant(r.createdAt());
                    case "expire_time" -> instant(r.expiresAt());
                    case "revoke_time" -> instant(r.revokedAt());
                    case "last_used_time" -> instant(r.lastUsedAt());
                    default -> throw new IllegalStateException(field);
                })).sorted(Comparator.comparing(AccessGrpcService::newestFirst)).toList();
                Pages.Page<ApiKeyStore.KeyRow> page = Pages.slice(sorted, AccessGrpcService::newestFirst, size, request.getPageToken(), "apiKeys",
                        filter.toString());
                return ListApiKeysResponse.newBuilder().addAllKeys(page.items().stream().map(AccessGrpcService::key).toList())
                        .setNextPageToken(page.nextPageToken()).build();
            });
        }), out);
    }

    private static String newestFirst(ApiKeyStore.KeyRow r) {
        long micros = r.createdAt().toEpochSecond() * 1_000_000 + r.createdAt().getNano() / 1000;
        return String.format("%019d", Long.MAX_VALUE - micros) + r.id();
    }

    private static java.time.Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }

    @Override
    public void revokeApiKey(RevokeApiKeyRequest request, StreamObserver<ApiKey> out) {
        Caller caller = CallerInterceptor.caller();
        String remote = CallerInterceptor.remote();
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            UUID id = RequestNames.apiKey("name", request.getName());
            return keys.revoke(id, caller, remote).flatMap(v -> keys.list())
                    .map(rows -> rows.stream().filter(r -> r.id().equals(id)).findFirst().map(AccessGrpcService::key)
                            .orElseThrow(() -> new NotFound(ResourceNames.apiKey(id), "no API key " + id)));
        }), out);
    }

    @Override
    public void listAuditEvents(ListAuditEventsRequest request, StreamObserver<ListAuditEventsResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            int size = Pages.size(request.getPageSize(), 100, MAX_AUDIT_PAGE);
            Condition filter = Filters.parse(AuditStore.FILTER, request.getFilter());
            String after = Pages.after(request.getPageToken(), "auditEvents", filter.toString());
            long before;
            try {
                before = after == null ? 0 : Long.parseLong(after);
            } catch (NumberFormatException e) {
                throw InvalidRequest.of("page_token", "not a page token of this listing");
            }
            return audit.page(size + 1, before, filter).map(rows -> {
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
                if (more) b.setNextPageToken(Pages.token(Long.toString(page.get(page.size() - 1).seq()), "auditEvents", filter.toString()));
                return b.build();
            });
        }), out);
    }

    static ApiKey key(ApiKeyStore.KeyRow r) {
        ApiKey.Builder b = ApiKey.newBuilder().setName(ResourceNames.apiKey(r.id())).setUid(r.id().toString()).setDisplayName(r.name())
                .setTenant(r.tenant()).setRole(r.role()).setCreatedBy(r.createdBy()).setCreateTime(timestamp(r.createdAt())).setPrefix(r.prefix());
        if (r.expiresAt() != null) b.setExpireTime(timestamp(r.expiresAt()));
        if (r.revokedAt() != null) b.setRevokeTime(timestamp(r.revokedAt()));
        if (r.lastUsedAt() != null) b.setLastUsedTime(timestamp(r.lastUsedAt()));
        return b.build();
    }

    private static Timestamp timestamp(OffsetDateTime t) {
        return Timestamp.newBuilder().setSeconds(t.toEpochSecond()).setNanos(t.getNano()).build();
    }
}
