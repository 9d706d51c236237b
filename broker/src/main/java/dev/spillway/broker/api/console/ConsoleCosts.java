package dev.spillway.broker.api.console;

import dev.spillway.client.SpillwayClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import io.smallrye.common.annotation.Blocking;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/** The console's costs page (finops, admin; a tenant's own costs for the others) and its FOCUS download. */
@Path("/console/costs")
@Produces(MediaType.TEXT_HTML)
@Blocking
public class ConsoleCosts {

    @CheckedTemplate(basePath = "console")
    static class Templates {
        static native TemplateInstance costs(Views.Chrome chrome, String range, String by, String labelKey, CostViews.Totals totals,
                                             List<CostViews.GroupRow> groups, String spendChart, String kindChart, String interval,
                                             List<CostViews.GroupRow> topJobs, List<CostViews.BudgetRow> budgets, String exportFrom, String exportTo);
    }

    private final ConsolePages pages;
    private final ConsoleCalls calls;
    private final java.time.Clock clock;

    public ConsoleCosts(ConsolePages pages, ConsoleCalls calls, java.time.Clock clock) {
        this.pages = pages;
        this.calls = calls;
        this.clock = clock;
    }

    /** The windows the costs page offers: how far back, and cut into hours or days. */
    enum Range {
        DAY("24h", java.time.temporal.ChronoUnit.HOURS), WEEK("7d", java.time.temporal.ChronoUnit.DAYS),
        MONTH_BACK("30d", java.time.temporal.ChronoUnit.DAYS), THIS_MONTH("month", java.time.temporal.ChronoUnit.DAYS);

        final String label;
        final java.time.temporal.ChronoUnit interval;

        Range(String label, java.time.temporal.ChronoUnit interval) {
            this.label = label;
            this.interval = interval;
        }

        static Range of(String label) {
            for (Range r : values()) if (r.label.equals(label)) return r;
            return WEEK;
        }

        Instant start(Instant now) {
            java.time.ZonedDateTime utc = now.atZone(java.time.ZoneOffset.UTC);
            return switch (this) {
                case DAY -> now.minus(24, ChronoUnit.HOURS).truncatedTo(ChronoUnit.HOURS);
                case WEEK -> utc.truncatedTo(ChronoUnit.DAYS).minusDays(6).toInstant();
                case MONTH_BACK -> utc.truncatedTo(ChronoUnit.DAYS).minusDays(29).toInstant();
                case THIS_MONTH -> utc.truncatedTo(ChronoUnit.DAYS).withDayOfMonth(1).toInstant();
            };
        }
    }

    @GET
    @Path("")
    public Response costs(@QueryParam("range") String rangeLabel, @QueryParam("by") String byParam, @QueryParam("label") String labelKey,
                          @Context RoutingContext rc) {
        return pages.page(rc, "Costs", "costs", (chrome, client) -> {
            Range range = Range.of(rangeLabel);
            String by = byParam == null || byParam.isBlank() ? "tenant" : byParam.trim();
            String groupBy = by.equals("label") ? "label:" + (labelKey == null ? "" : labelKey.trim()) : by;
            Instant now = clock.instant();
            Instant start = range.start(now);
            dev.spillway.api.v1.GetCostReportResponse report = client.call("GetCostReport", () -> client.stub(dev.spillway.api.v1.CostServiceGrpc::newBlockingStub)
                    .getCostReport(dev.spillway.api.v1.GetCostReportRequest.newBuilder().setGroupBy(groupBy).setStartTime(ConsolePages.ts(start)).setEndTime(ConsolePages.ts(now))
                            .setInterval(range.interval == ChronoUnit.HOURS ? dev.spillway.api.v1.CostInterval.COST_INTERVAL_HOUR
                                    : dev.spillway.api.v1.CostInterval.COST_INTERVAL_DAY).build()));
            dev.spillway.api.v1.GetCostReportResponse jobs = client.call("GetCostReport", () -> client.stub(dev.spillway.api.v1.CostServiceGrpc::newBlockingStub)
                    .getCostReport(dev.spillway.api.v1.GetCostReportRequest.newBuilder().setGroupBy("job").setStartTime(ConsolePages.ts(start)).setEndTime(ConsolePages.ts(now)).build()));
            List<CostViews.BudgetRow> budgets = new ArrayList<>();
            var listed = client.call("ListBudgets", () -> client.stub(dev.spillway.api.v1.BudgetServiceGrpc::newBlockingStub)
                    .listBudgets(dev.spillway.api.v1.ListBudgetsRequest.newBuilder().setPageSize(50).build()));
            for (dev.spillway.api.v1.Budget b : listed.getBudgetsList()) {
                dev.spillway.api.v1.GetCostReportResponse spending = null;
                if (!b.getTenant().startsWith("cohort:") && b.hasPeriodStart()) {
                    long hours = Math.max(1, (now.getEpochSecond() - b.getPeriodStart().getSeconds()) / 3600);
                    spending = client.call("GetCostReport", () -> client.stub(dev.spillway.api.v1.CostServiceGrpc::newBlockingStub)
                            .getCostReport(dev.spillway.api.v1.GetCostReportRequest.newBuilder().setTenant(b.getTenant()).setStartTime(b.getPeriodStart())
                                    .setEndTime(ConsolePages.ts(now)).setInterval(hours <= 72 ? dev.spillway.api.v1.CostInterval.COST_INTERVAL_HOUR
                                            : dev.spillway.api.v1.CostInterval.COST_INTERVAL_DAY).build()));
                }
                budgets.add(CostViews.budget(b, spending));
            }
            String what = by.equals("label") ? "label" : by;
            List<CostViews.GroupRow> top = jobs.getGroupsList().stream().filter(g -> !g.getKey().isEmpty()).limit(10)
                    .map(g -> CostViews.group(g, "job")).toList();
            java.time.LocalDate today = now.atZone(java.time.ZoneOffset.UTC).toLocalDate();
            return Templates.costs(chrome, range.label, by, labelKey == null ? "" : labelKey, CostViews.totals(report),
                    report.getGroupsList().stream().map(g -> CostViews.group(g, what)).toList(), CostViews.spendChart(report, what),
                    CostViews.kindChart(report), range.interval == ChronoUnit.HOURS ? "hour" : "day", top, budgets,
                    today.withDayOfMonth(1).toString(), today.plusDays(1).toString());
        });
    }

    /** The ledger of a period as a FOCUS 1.2 CSV file, streamed from ExportCosts as the caller may read it. */
    @GET
    @Path("/export")
    @Produces("text/csv")
    public Response export(@QueryParam("from") String from, @QueryParam("to") String to, @Context RoutingContext rc) {
        ConsoleSessions.Session session = rc.get(ConsoleGate.SESSION);
        java.time.LocalDate start;
        java.time.LocalDate end;
        try {
            start = java.time.LocalDate.parse(from);
            end = java.time.LocalDate.parse(to);
        } catch (RuntimeException e) {
            return Response.status(400).type(MediaType.TEXT_PLAIN_TYPE).entity("from and to are dates, YYYY-MM-DD\n").build();
        }
        SpillwayClient client = calls.as(session.credential());
        var request = dev.spillway.api.v1.ExportCostsRequest.newBuilder().setFormat("focus")
                .setStartTime(ConsolePages.ts(start.atStartOfDay(java.time.ZoneOffset.UTC).toInstant())).setEndTime(ConsolePages.ts(end.atStartOfDay(java.time.ZoneOffset.UTC).toInstant())).build();
        java.util.Iterator<dev.spillway.api.v1.ExportCostsResponse> chunks;
        dev.spillway.api.v1.ExportCostsResponse first;
        try {
            chunks = dev.spillway.api.v1.CostServiceGrpc.newBlockingStub(client.channel())
                    .withDeadlineAfter(5, java.util.concurrent.TimeUnit.MINUTES).exportCosts(request);
            // The first chunk (or the refusal) before the answer starts, so that an error is a page, not half a file.
            first = chunks.hasNext() ? chunks.next() : null;
        } catch (StatusRuntimeException e) {
            return Response.status(e.getStatus().getCode() == Status.Code.PERMISSION_DENIED ? 403 : e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT ? 400 : 503)
                    .type(MediaType.TEXT_PLAIN_TYPE).entity("the export was refused: " + (e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT ? ConsolePages.invalid(e)
                            : e.getStatus().getDescription()) + "\n").build();
        }
        jakarta.ws.rs.core.StreamingOutput body = out -> {
            if (first != null) first.getChunk().writeTo(out);
            while (chunks.hasNext()) chunks.next().getChunk().writeTo(out);
        };
        return Response.ok(body, "text/csv; charset=utf-8")
                .header("Content-Disposition", "attachment; filename=\"spillway-focus-" + start + "-to-" + end + ".csv\"").build();
    }
}
