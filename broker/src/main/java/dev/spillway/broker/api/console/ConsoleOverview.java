package dev.spillway.broker.api.console;

import dev.spillway.api.v1.BrokerServiceGrpc;
import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.GetQueueStatusRequest;
import dev.spillway.api.v1.GetStatusRequest;
import dev.spillway.api.v1.GetStatusResponse;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.ListPoolsRequest;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.client.SpillwayClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import io.smallrye.common.annotation.Blocking;
import io.vertx.core.http.Cookie;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.FormParam;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/**
 * The console's first page: pools, the queue by tenant, cloud instances and the leader, with a
 * live part the page fetches again every refresh interval; and signing out.
 */
@Path("/console")
@Produces(MediaType.TEXT_HTML)
@Blocking
public class ConsoleOverview {

    @CheckedTemplate(basePath = "console")
    static class Templates {
        static native TemplateInstance overview(Views.Chrome chrome, long refreshMillis, List<Views.PoolRow> pools, Views.Leader leader,
                                                List<Views.TenantRow> tenants, String capacity, List<Views.StateCount> instanceCounts,
                                                List<Views.InstanceRow> instances, String instancesHidden, String updated);

        static native TemplateInstance overview$live(Views.Chrome chrome, long refreshMillis, List<Views.PoolRow> pools, Views.Leader leader,
                                                     List<Views.TenantRow> tenants, String capacity, List<Views.StateCount> instanceCounts,
                                                     List<Views.InstanceRow> instances, String instancesHidden, String updated);
    }

    private final ConsolePages pages;
    private final java.time.Clock clock;
    private final long refreshMillis;

    public ConsoleOverview(ConsolePages pages, BrokerConfig config, java.time.Clock clock) {
        this.pages = pages;
        this.clock = clock;
        this.refreshMillis = config.console().refreshInterval().toMillis();
    }

    @GET
    @Path("/")
    public Response overview(@Context RoutingContext rc) {
        return pages.page(rc, "Overview", "overview", (chrome, client) -> {
            Overview o = overviewData(client);
            return Templates.overview(chrome, refreshMillis, o.pools, o.leader, o.tenants, o.capacity, o.instanceCounts, o.instances,
                    o.instancesHidden, o.updated);
        });
    }

    /** The overview's live part alone, which the open page fetches every refresh interval and swaps in. */
    @GET
    @Path("/overview/live")
    public Response overviewLive(@Context RoutingContext rc) {
        return pages.page(rc, "Overview", "overview", (chrome, client) -> {
            Overview o = overviewData(client);
            return Templates.overview$live(chrome, refreshMillis, o.pools, o.leader, o.tenants, o.capacity, o.instanceCounts, o.instances,
                    o.instancesHidden, o.updated);
        });
    }

    private record Overview(List<Views.PoolRow> pools, Views.Leader leader, List<Views.TenantRow> tenants, String capacity,
                            List<Views.StateCount> instanceCounts, List<Views.InstanceRow> instances, String instancesHidden, String updated) {
    }

    private Overview overviewData(SpillwayClient client) {
        var pools = client.call("ListPools", () -> client.stub(PoolServiceGrpc::newBlockingStub)
                .listPools(ListPoolsRequest.newBuilder().setPageSize(1000).build())).getPoolsList();
        var queue = client.call("GetQueueStatus", () -> client.stub(PoolServiceGrpc::newBlockingStub).getQueueStatus(GetQueueStatusRequest.getDefaultInstance()));
        GetStatusResponse status = client.call("GetStatus", () -> client.stub(BrokerServiceGrpc::newBlockingStub).getStatus(GetStatusRequest.getDefaultInstance()));
        List<CloudInstance> instances = List.of();
        String hidden = "";
        try {
            // Live instances, and those that ended in the last 15 minutes (so that a burst is seen coming and going).
            String recent = "(-state = TERMINATED AND -state = FAILED) OR terminate_time >= "
                    + clock.instant().minus(15, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.SECONDS);
            instances = client.call("ListInstances", () -> client.stub(PoolServiceGrpc::newBlockingStub)
                    .listInstances(ListInstancesRequest.newBuilder().setFilter(recent).setPageSize(1000).build())).getInstancesList();
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.PERMISSION_DENIED) throw e;
            hidden = "Your role does not list cloud instances.";
        }
        List<CloudInstance> newestFirst = new ArrayList<>(instances);
        newestFirst.sort(java.util.Comparator.comparing((CloudInstance i) -> i.getRequestTime().getSeconds()).reversed());
        return new Overview(pools.stream().map(Views::pool).toList(), status.hasLeader() ? Views.leader(status.getLeader(), status.getBrokersCount()) : null,
                queue.getTenantsList().stream().map(Views::tenant).toList(), Views.resources(queue.getCapacity()), Views.instanceCounts(instances),
                newestFirst.stream().map(Views::instance).toList(), hidden, Views.time(com.google.protobuf.util.Timestamps.fromMillis(clock.millis())));
    }

    @POST
    @Path("/logout")
    @jakarta.ws.rs.Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    public Response logout(@FormParam("_csrf") String csrf, @Context RoutingContext rc) {
        ConsolePages.csrf(rc, csrf);
        return Response.seeOther(URI.create("/console/login")).header("Set-Cookie", ConsolePages.cookie(rc, ConsoleSessions.COOKIE, "", 0, "/console")).build();
    }
}
