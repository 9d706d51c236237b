package dev.spillway.broker.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.spillway.broker.cost.CostLedger;
import dev.spillway.broker.cost.CostQueries;
import dev.spillway.broker.errors.InvalidRequest;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** REST over the cost ledger, as CostService: the report (JSON) and the FOCUS export (CSV). Needs the permission to read costs. */
@Path("/api/v1/cost")
@Tag(name = "spillway")
public class CostApi {

    private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace().alwaysPrintFieldsWithNoPresence();

    private final CostQueries costs;
    private final CostLedger ledger;
    private final java.time.Clock clock;

    public CostApi(CostQueries costs, CostLedger ledger, java.time.Clock clock) {
        this.costs = costs;
        this.ledger = ledger;
        this.clock = clock;
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "The cost ledger summed by tenant, pool, job or label:KEY",
            description = "As CostService.GetCostReport. The window is from (RFC 3339) or since (30d, 12h, 90m; default 30d) until to (default now).")
    public Uni<Response> report(@QueryParam("by") String by, @QueryParam("from") String from, @QueryParam("since") String since,
                                @QueryParam("to") String to, @QueryParam("tenant") String tenant, @Context RoutingContext rc) {
        var scope = HttpAuthentication.caller(rc).readScope();
        return Uni.createFrom().deferred(() -> costs.report(by, start(from, since), time("to", to), tenant, scope))
                .map(r -> {
                    try {
                        return Response.ok(JSON.print(CostGrpcService.response(r)), MediaType.APPLICATION_JSON).build();
                    } catch (InvalidProtocolBufferException e) {
                        throw new IllegalStateException(e);
                    }
                })
                .onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/export")
    @Produces("text/csv")
    @Operation(summary = "The ledger's lines as a FOCUS 1.2 cost and usage CSV", description = "As CostService.ExportCosts; format=focus.")
    public Uni<Response> export(@QueryParam("format") String format, @QueryParam("from") String from, @QueryParam("since") String since,
                                @QueryParam("to") String to, @QueryParam("tenant") String tenant, @Context RoutingContext rc) {
        var scope = HttpAuthentication.caller(rc).readScope();
        return Uni.createFrom().deferred(() -> {
            if (format != null && !format.isEmpty() && !format.equals("focus")) {
                throw InvalidRequest.of("format", "focus (FOCUS 1.2 CSV) is the only format, not '" + format + "'");
            }
            return costs.lines(start(from, since), time("to", to), tenant, scope);
        }).map(lines -> Response.ok(String.join("", ledger.focus().csv(lines)), "text/csv; charset=utf-8")
                .header("Content-Disposition", "attachment; filename=\"spillway-focus.csv\"").build())
                .onFailure().recoverWithItem(ApiErrors::problem);
    }

    private Instant start(String from, String since) {
        if (from != null && !from.isEmpty()) {
            if (since != null && !since.isEmpty()) throw InvalidRequest.of("since", "give from or since, not both");
            return time("from", from);
        }
        return clock.instant().minus(since == null || since.isEmpty() ? Duration.ofDays(30) : duration(since));
    }

    /** 30d, 12h, 90m, 45s. */
    static Duration duration(String s) {
        try {
            long n = Long.parseLong(s.substring(0, s.length() - 1));
            if (n > 0 && n <= 100_000) {
                switch (s.charAt(s.length() - 1)) {
                    case 'd': return Duration.ofDays(n);
                    case 'h': return Duration.ofHours(n);
                    case 'm': return Duration.ofMinutes(n);
                    case 's': return Duration.ofSeconds(n);
                    default: break;
                }
            }
        } catch (RuntimeException e) {
            // a clear message below
        }
        throw InvalidRequest.of("since", "a positive duration such as 30d, 12h or 90m, not '" + s + "'");
    }

    private static Instant time(String field, String value) {
        if (value == null || value.isEmpty()) return null;
        try {
            return OffsetDateTime.parse(value).toInstant();
        } catch (DateTimeParseException e) {
            try {
                return java.time.LocalDate.parse(value).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
            } catch (DateTimeParseException e2) {
                throw InvalidRequest.of(field, "an RFC 3339 time (2026-12-01T00:00:00Z) or a date (2026-12-01), not '" + value + "'");
            }
        }
    }
}
