package dev.spillway.broker.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListNodesResponse;
import dev.spillway.api.v1.ListPoolsRequest;
import dev.spillway.api.v1.ListPoolsResponse;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.broker.burst.BurstStatus;
import dev.spillway.broker.cluster.ClusterView;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.jobs.JobQueries;
import dev.spillway.core.access.TenantScope;
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
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Read-only REST over the same data as the gRPC API, in the proto3 JSON mapping of spillway.v1
 * (field names in lowerCamelCase). Errors are RFC 9457 problem+json. Callers are authenticated
 * before a resource runs ({@link HttpAuthentication}), and see only their tenants' jobs.
 */
@Path("/api/v1")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "spillway")
public class ReadApi {

    private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace().alwaysPrintFieldsWithNoPresence();

    private final JobQueries jobs;
    private final ClusterView cluster;
    private final BurstStatus burst;
    private final dev.spillway.broker.store.PolicyStore policies;

    private final dev.spillway.broker.jobs.DecisionQueries decisions;
    private final dev.spillway.broker.leader.BrokerStatus brokers;
    private final LeaderForwarding forwarding;
    private final dev.spillway.broker.scheduling.SchedulingLoop scheduler;

    public ReadApi(JobQueries jobs, ClusterView cluster, BurstStatus burst, dev.spillway.broker.store.PolicyStore policies,
                   dev.spillway.broker.jobs.DecisionQueries decisions, dev.spillway.broker.leader.BrokerStatus brokers,
                   LeaderForwarding forwarding, dev.spillway.broker.scheduling.SchedulingLoop scheduler) {
        this.scheduler = scheduler;
        this.forwarding = forwarding;
        this.brokers = brokers;
        this.decisions = decisions;
        this.jobs = jobs;
        this.cluster = cluster;
        this.burst = burst;
        this.policies = policies;
    }

    @GET
    @Path("/jobs")
    @Operation(summary = "List jobs, newest first", description = "Same filter (AIP-160) and page tokens as JobService.ListJobs.")
    public Uni<Response> listJobs(@QueryParam("pageSize") int pageSize, @QueryParam("pageToken") String pageToken,
                                  @QueryParam("filter") String filter, @Context RoutingContext rc) {
        TenantScope scope = HttpAuthentication.caller(rc).readScope();
        return Uni.createFrom().deferred(() -> {
            ListJobsRequest.Builder req = ListJobsRequest.newBuilder().setPageSize(pageSize);
            if (pageToken != null) req.setPageToken(pageToken);
            if (filter != null) req.setFilter(filter);
            var leader = forwarding.forRest(rc.request().getHeader("Authorization"));
            if (leader.isPresent()) return LeaderForwarding.answer(JobServiceGrpc.newFutureStub(leader.get()).listJobs(req.build()));
            return jobs.list(req.getPageSize(), req.getPageToken(), req.getFilter(), scope).map(ProtoMapping::listJobsResponse);
        }).map(ReadApi::ok).onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/jobs/{job}")
    @Operation(summary = "One job with its task counts: the job jobs/{job}")
    public Uni<Response> getJob(@PathParam("job") String job, @Context RoutingContext rc) {
        TenantScope scope = HttpAuthentication.caller(rc).readScope();
        return Uni.createFrom().deferred(() -> {
            UUID id = RequestNames.job("job", job);
            var leader = forwarding.forRest(rc.request().getHeader("Authorization"));
            if (leader.isPresent()) {
                return LeaderForwarding.answer(JobServiceGrpc.newFutureStub(leader.get())
                        .getJob(GetJobRequest.newBuilder().setName(dev.spillway.api.ResourceNames.job(id)).build()));
            }
            return jobs.get(id, scope).map(ProtoMapping::job);
        }).map(ReadApi::ok).onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/jobs/{job}/tasks")
    @Operation(summary = "A job's tasks by index, paginated", description = "Same filter (AIP-160) and page tokens as JobService.ListTasks.")
    public Uni<Response> listTasks(@PathParam("job") String job, @QueryParam("pageSize") int pageSize, @QueryParam("pageToken") String pageToken,
                                   @QueryParam("filter") String filter, @Context RoutingContext rc) {
        TenantScope scope = HttpAuthentication.caller(rc).readScope();
        return Uni.createFrom().deferred(() -> {
            UUID id = RequestNames.job("job", job);
            return jobs.tasks(id, pageSize, pageToken, filter, scope).map(page -> ProtoMapping.listTasksResponse(id, page));
        }).map(ReadApi::ok).onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/nodes")
    @Operation(summary = "Nodes with capacity and allocation")
    public Uni<Response> nodes(@QueryParam("pool") String pool) {
        return Uni.createFrom().deferred(() -> cluster.nodes(pool == null || pool.isEmpty() ? null : RequestNames.pool("pool", pool), null))
                .map(n -> ok(ListNodesResponse.newBuilder().addAllNodes(n.stream().map(ProtoMapping::node)
                        .sorted(java.util.Comparator.comparing(dev.spillway.api.v1.Node::getName)).toList()).build()))
                .onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/status")
    @Operation(summary = "The brokers that share the database and which one leads", description = "Same as BrokerService.GetStatus.")
    public Uni<Response> status() {
        return brokers.status().map(s -> ok(BrokerGrpcService.response(s))).onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/pools")
    @Operation(summary = "Pools with capacity and allocation")
    public Uni<Response> pools(@Context RoutingContext rc) {
        return Uni.createFrom().deferred(() -> {
            var leader = forwarding.forRest(rc.request().getHeader("Authorization"));
            if (leader.isPresent()) {
                return LeaderForwarding.answer(PoolServiceGrpc.newFutureStub(leader.get()).listPools(ListPoolsRequest.getDefaultInstance()));
            }
            return PoolGrpcService.pools(cluster, burst, scheduler).map(p -> ListPoolsResponse.newBuilder().addAllPools(p).build());
        }).map(ReadApi::ok).onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/policies")
    @Operation(summary = "The policy set in force, its version and files", description = "As PolicyService.GetPolicies; roles finops, admin, operator.")
    public Uni<Response> policies() {
        return policies.current().map(v -> ok(PolicyGrpcService.files(v))).onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/policies/versions")
    @Operation(summary = "Versions of the policy set, newest first", description = "As PolicyService.ListPolicyVersions, with its page tokens.")
    public Uni<Response> policyVersions(@QueryParam("pageSize") int pageSize, @QueryParam("pageToken") String pageToken) {
        return Uni.createFrom().deferred(() -> PolicyGrpcService.versions(policies, pageSize, pageToken)).map(ReadApi::ok)
                .onFailure().recoverWithItem(ApiErrors::problem);
    }

    @GET
    @Path("/jobs/{job}/decisions")
    @Operation(summary = "The decision log, newest first", description = "As PolicyService.ListDecisions: where each attempt of the job "
            + "jobs/{job} ran and which rules allowed it there; jobs/-/decisions for every job's. Same filter (AIP-160) and page tokens.")
    public Uni<Response> decisions(@PathParam("job") String job, @QueryParam("filter") String filter,
                                   @QueryParam("pageSize") int pageSize, @QueryParam("pageToken") String pageToken, @Context RoutingContext rc) {
        TenantScope scope = HttpAuthentication.caller(rc).readScope();
        return Uni.createFrom().deferred(() -> {
            UUID id = job.equals("-") ? null : RequestNames.job("job", job);
            return decisions.list(id, filter, pageSize, pageToken, scope);
        }).map(page -> ok(PolicyGrpcService.decisions(page))).onFailure().recoverWithItem(ApiErrors::problem);
    }

    private static Response ok(MessageOrBuilder message) {
        try {
            return Response.ok(JSON.print(message), MediaType.APPLICATION_JSON).build();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }
}
