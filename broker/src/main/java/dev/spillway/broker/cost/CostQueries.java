package dev.spillway.broker.cost;

import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.store.LedgerStore;
import dev.spillway.core.access.TenantScope;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Set;

/**
 * Reads of the cost ledger as a caller may make them: the window and grouping checked, and the
 * lines limited to the caller's tenants (a tenant-scoped caller never sees idle cost, which
 * belongs to no tenant; asking for another tenant's cost is PERMISSION_DENIED).
 */
@ApplicationScoped
public class CostQueries {

    /** Longest window one report or export reads. */
    static final Duration MAX_WINDOW = Duration.ofDays(400);

    private final CostLedger ledger;
    private final java.time.Clock clock;

    public CostQueries(CostLedger ledger, java.time.Clock clock) {
        this.ledger = ledger;
        this.clock = clock;
    }

    public Uni<CostLedger.Report> report(String groupBy, Instant from, Instant to, String tenant, TenantScope scope) {
        return report(groupBy, from, to, tenant, scope, (java.util.UUID) null);
    }

    /** The report, of one job's cost only when {@code job} is set (nothing when it is another tenant's). */
    public Uni<CostLedger.Report> report(String groupBy, Instant from, Instant to, String tenant, TenantScope scope, java.util.UUID job) {
        return Uni.createFrom().deferred(() -> {
            LedgerStore.Grouping grouping;
            String labelKey = null;
            String by = groupBy == null || groupBy.isEmpty() ? "tenant" : groupBy;
            switch (by) {
                case "tenant" -> grouping = LedgerStore.Grouping.TENANT;
                case "pool" -> grouping = LedgerStore.Grouping.POOL;
                case "job" -> grouping = LedgerStore.Grouping.JOB;
                default -> {
                    if (!by.startsWith("label:") || by.length() == "label:".length()) {
                        throw InvalidRequest.of("group_by", "tenant, pool, job or label:KEY, not '" + by + "'");
                    }
                    grouping = LedgerStore.Grouping.LABEL;
                    labelKey = by.substring("label:".length());
                }
            }
            checkWindow(from, to);
            return ledger.report(new CostLedger.Query(from, to, grouping, labelKey, tenants(tenant, scope), job));
        });
    }

    /** A report and, when an interval was asked for, the same report for each period of its window. */
    public record Reports(CostLedger.Report total, List<CostLedger.Report> periods) {
    }

    /** The most periods a report is cut into. */
    static final int MAX_PERIODS = 744;

    /**
     * {@link #report}, and with {@code interval} (hours or days) also the window cut into periods,
     * each reported the same way; all with the same end, read once, so that the periods add up to
     * the total.
     */
    public Uni<Reports> report(String groupBy, Instant from, Instant to, String tenant, TenantScope scope, ChronoUnit interval, java.util.UUID job) {
        Instant now = clock.instant();
        Instant end = to == null || to.isAfter(now) ? now : to;
        Uni<CostLedger.Report> total = report(groupBy, from, end, tenant, scope, job);
        if (interval == null) return total.map(t -> new Reports(t, List.of()));
        return total.flatMap(t -> {
            List<Instant[]> cuts = periods(t.from(), t.to(), interval);
            if (cuts.size() > MAX_PERIODS) {
                throw InvalidRequest.of("interval", "at most " + MAX_PERIODS + " periods, not " + cuts.size() + ": ask for days, or a shorter window");
            }
            return io.smallrye.mutiny.Multi.createFrom().iterable(cuts)
                    .onItem().transformToUniAndConcatenate(cut -> report(groupBy, cut[0], cut[1], tenant, scope, job))
                    .collect().asList().map(periods -> new Reports(t, periods));
        });
    }

    /** {@code [from, to)} cut at each UTC hour or day boundary: the first period starts at {@code from}, the last ends at {@code to}. */
    static List<Instant[]> periods(Instant from, Instant to, ChronoUnit interval) {
        if (interval != ChronoUnit.HOURS && interval != ChronoUnit.DAYS) throw new IllegalArgumentException("hours or days, not " + interval);
        List<Instant[]> out = new java.util.ArrayList<>();
        Instant start = from;
        while (start.isBefore(to)) {
            Instant next = start.atZone(java.time.ZoneOffset.UTC).truncatedTo(interval).plus(1, interval).toInstant();
            Instant end = next.isAfter(to) ? to : next;
            out.add(new Instant[] {start, end});
            if (out.size() > MAX_PERIODS) break;
            start = end;
        }
        return out;
    }

    public Uni<List<LedgerStore.Line>> lines(Instant from, Instant to, String tenant, TenantScope scope) {
        return Uni.createFrom().deferred(() -> {
            checkWindow(from, to);
            return ledger.lines(from, to, tenants(tenant, scope));
        });
    }

    private void checkWindow(Instant from, Instant to) {
        if (from == null) throw InvalidRequest.of("start_time", "required: the report starts at the hour holding it");
        if (to != null && !to.isAfter(from)) throw InvalidRequest.of("end_time", "must be after start_time");
        Instant end = to == null ? clock.instant() : to;
        if (Duration.between(from, end).compareTo(MAX_WINDOW) > 0) {
            throw InvalidRequest.of("start_time", "a window of at most " + MAX_WINDOW.toDays() + " days, not " + Duration.between(from, end).toDays());
        }
    }

    /** Whose lines the caller reads: null for every tenant's (and idle), else the tenants it asked for or may read. */
    private static Set<String> tenants(String tenant, TenantScope scope) {
        if (tenant != null && !tenant.isEmpty()) {
            if (!scope.includes(tenant)) throw PermissionDenied.tenant(tenant, "you may not read the costs of tenant " + tenant);
            return Set.of(tenant);
        }
        return scope instanceof TenantScope.Only only ? Set.copyOf(only.tenants()) : null;
    }
}
