package dev.spillway.broker.jobs;

import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.store.DecisionLog;
import dev.spillway.core.access.TenantScope;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * Reads of the decision log within the caller's tenants, a page at a time. A page token carries
 * the position of the page's last decision and is bound to the filter it was made for.
 */
@ApplicationScoped
public class DecisionQueries {

    static final int DEFAULT_PAGE = 100;
    static final int MAX_PAGE = 1000;

    private final DecisionLog log;
    private final JobAccess access;

    public DecisionQueries(DecisionLog log, JobAccess access) {
        this.log = log;
        this.access = access;
    }

    /** What to list: each part applies when not null. */
    public record Filter(String tenant, UUID jobId, Instant since) {
        String key() {
            return Objects.toString(tenant, "") + "/" + Objects.toString(jobId, "") + "/" + (since == null ? "" : since.toString());
        }
    }

    public record Page(List<DecisionLog.Decision> decisions, String nextPageToken) {
    }

    public Uni<Page> list(Filter filter, int pageSize, String pageToken, TenantScope scope) {
        if (filter.tenant() != null && !scope.includes(filter.tenant())) {
            throw PermissionDenied.tenant(filter.tenant(), "you may not read the decisions of tenant " + filter.tenant());
        }
        String[] tenants = filter.tenant() != null ? new String[] {filter.tenant()}
                : scope instanceof TenantScope.Only only ? only.tenants().toArray(String[]::new) : null;
        if (pageSize < 0) throw InvalidRequest.of("page_size", "must not be negative");
        int size = pageSize == 0 ? DEFAULT_PAGE : Math.min(pageSize, MAX_PAGE);
        DecisionLog.Cursor after = pageToken == null || pageToken.isEmpty() ? null : cursor(pageToken, filter);
        Uni<?> gate = filter.jobId() == null ? Uni.createFrom().voidItem() : access.visible(filter.jobId(), scope);
        return gate.flatMap(visible -> log.list(tenants, filter.jobId(), filter.since(), after, size + 1)).map(rows -> {
            boolean more = rows.size() > size;
            List<DecisionLog.Decision> page = more ? rows.subList(0, size) : rows;
            return new Page(List.copyOf(page), more ? token(filter, DecisionLog.Cursor.after(page.get(page.size() - 1))) : "");
        });
    }

    private static String token(Filter filter, DecisionLog.Cursor c) {
        String t = filter.key() + "|" + c.decidedAt() + "|" + c.jobId() + "|" + c.index() + "|" + c.attempt();
        return Base64.getUrlEncoder().withoutPadding().encodeToString(t.getBytes(StandardCharsets.UTF_8));
    }

    private static DecisionLog.Cursor cursor(String token, Filter filter) {
        String[] parts;
        try {
            parts = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8).split("\\|", -1);
        } catch (IllegalArgumentException e) {
            throw InvalidRequest.of("page_token", "not a token from ListDecisions");
        }
        if (parts.length != 5) throw InvalidRequest.of("page_token", "not a token from ListDecisions");
        if (!parts[0].equals(filter.key())) throw InvalidRequest.of("page_token", "belongs to another tenant, job or since than this request's");
        try {
            return new DecisionLog.Cursor(Instant.parse(parts[1]), UUID.fromString(parts[2]), Integer.parseInt(parts[3]), Integer.parseInt(parts[4]));
        } catch (RuntimeException e) {
            throw InvalidRequest.of("page_token", "not a token from ListDecisions");
        }
    }
}
