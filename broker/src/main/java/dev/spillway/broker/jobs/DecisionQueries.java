package dev.spillway.broker.jobs;

import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.listing.Filters;
import dev.spillway.broker.listing.Pages;
import dev.spillway.broker.store.DecisionLog;
import dev.spillway.core.access.TenantScope;
import dev.spillway.core.filter.Condition;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
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

    public record Page(List<DecisionLog.Decision> decisions, String nextPageToken) {
    }

    /**
     * A page of decisions, newest first, of the tenants the caller may read.
     *
     * @param jobId only this job's attempts; null: every job's
     * @param filter AIP-160, of {@link DecisionLog#FILTER}
     */
    public Uni<Page> list(UUID jobId, String filter, int pageSize, String pageToken, TenantScope scope) {
        String[] tenants = scope instanceof TenantScope.Only only ? only.tenants().toArray(String[]::new) : null;
        int size = Pages.size(pageSize, DEFAULT_PAGE, MAX_PAGE);
        Condition condition = Filters.parse(DecisionLog.FILTER, filter);
        String job = Objects.toString(jobId, ""), bound = condition.toString();
        String after = Pages.after(pageToken, "decisions", job, bound);
        DecisionLog.Cursor from = after == null ? null : cursor(after);
        Uni<?> gate = jobId == null ? Uni.createFrom().voidItem() : access.visible(jobId, scope);
        return gate.flatMap(visible -> log.list(tenants, jobId, condition, from, size + 1)).map(rows -> {
            boolean more = rows.size() > size;
            List<DecisionLog.Decision> page = more ? rows.subList(0, size) : rows;
            DecisionLog.Cursor last = more ? DecisionLog.Cursor.after(page.get(page.size() - 1)) : null;
            String next = more ? Pages.token(last.decidedAt() + "|" + last.jobId() + "|" + last.index() + "|" + last.attempt(), "decisions", job, bound) : "";
            return new Page(List.copyOf(page), next);
        });
    }

    private static DecisionLog.Cursor cursor(String key) {
        String[] parts = key.split("\\|", -1);
        try {
            return new DecisionLog.Cursor(Instant.parse(parts[0]), UUID.fromString(parts[1]), Integer.parseInt(parts[2]), Integer.parseInt(parts[3]));
        } catch (RuntimeException e) {
            throw InvalidRequest.of("page_token", "not a page token of this listing");
        }
    }
}
