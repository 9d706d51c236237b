package dev.spillway.broker.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** REST reads of budgets, as BudgetService.ListBudgets and GetBudget; a tenant reads its own. */
@Path("/api/v1/budgets")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "spillway")
public class BudgetApi {

    private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace().alwaysPrintFieldsWithNoPresence();

    private final BudgetGrpcService budgets;

    public BudgetApi(@io.quarkus.grpc.GrpcService BudgetGrpcService budgets) {
        this.budgets = budgets;
    }

    @GET
    @Operation(summary = "Budgets with their current period: spent, reserved, forecast and limit",
            description = "Same filter (AIP-160) and page tokens as BudgetService.ListBudgets.")
    public Uni<Response> list(@QueryParam("pageSize") int pageSize, @QueryParam("pageToken") String pageToken, @QueryParam("filter") String filter,
                              @Context RoutingContext rc) {
        return budgets.list(pageSize, pageToken, filter, HttpAuthentication.caller(rc).readScope()).map(BudgetApi::ok)
                .onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/{name}")
    @Operation(summary = "One budget with its current period and latest alerts: the budget budgets/{name}")
    public Uni<Response> get(@PathParam("name") String name, @Context RoutingContext rc) {
        return Uni.createFrom().deferred(() -> budgets.one(RequestNames.budget("name", name), HttpAuthentication.caller(rc).readScope())).map(BudgetApi::ok).onFailure().recoverWithItem(ApiErrors::problem);
    }

    private static Response ok(MessageOrBuilder message) {
        try {
            return Response.ok(JSON.print(message), MediaType.APPLICATION_JSON).build();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }
}
