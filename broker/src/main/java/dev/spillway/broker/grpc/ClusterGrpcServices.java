package dev.spillway.broker.grpc;

import static dev.spillway.broker.jobs.JobSpecValidator.violation;

import com.google.protobuf.Timestamp;
import com.google.rpc.BadRequest.FieldViolation;
import dev.spillway.api.v1.CreateJoinTokenRequest;
import dev.spillway.api.v1.CreateJoinTokenResponse;
import dev.spillway.api.v1.GetNodeRequest;
import dev.spillway.api.v1.GetNodeResponse;
import dev.spillway.api.v1.GetPoolRequest;
import dev.spillway.api.v1.GetPoolResponse;
import dev.spillway.api.v1.ListNodesRequest;
import dev.spillway.api.v1.ListNodesResponse;
import dev.spillway.api.v1.ListPoolsRequest;
import dev.spillway.api.v1.ListPoolsResponse;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.broker.agent.AgentCredentials;
import dev.spillway.broker.cluster.ClusterView;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** spillway.v1.PoolService and NodeService: read-only views of the cluster. */
public final class ClusterGrpcServices {

    private ClusterGrpcServices() {}

    @GrpcService
    public static class Pools extends PoolServiceGrpc.PoolServiceImplBase {
        private final ClusterView cluster;
        private final dev.spillway.broker.cloud.InstanceStore instances;
        private final dev.spillway.broker.cloud.BurstController burst;

        public Pools(ClusterView cluster, dev.spillway.broker.cloud.InstanceStore instances, dev.spillway.broker.cloud.BurstController burst) {
            this.cluster = cluster;
            this.instances = instances;
            this.burst = burst;
        }

        /** The pools, each cloud pool with how it stands for bursting. */
        private io.smallrye.mutiny.Uni<java.util.List<dev.spillway.api.v1.Pool>> pools() {
            return cluster.pools().flatMap(pools -> burst.status().map(status -> pools.stream()
                    .map(p -> status.containsKey(p.getName()) ? p.toBuilder().setCloud(status.get(p.getName())).build() : p)
                    .toList()));
        }

        @Override
        public void listInstances(dev.spillway.api.v1.ListInstancesRequest request, StreamObserver<dev.spillway.api.v1.ListInstancesResponse> out) {
            instances.all().subscribe().with(rows -> {
                java.time.Instant now = java.time.Instant.now();
                var b = dev.spillway.api.v1.ListInstancesResponse.newBuilder();
                for (var r : rows) {
                    if (!request.getPool().isEmpty() && !request.getPool().equals(r.pool())) continue;
                    var i = dev.spillway.api.v1.CloudInstance.newBuilder().setInstanceId(r.id().toString()).setPool(r.pool())
                            .setNode(r.nodeName()).setInstanceType(r.instanceType()).setRegion(r.region()).setZone(r.zone())
                            .setSpot(r.spot()).setPriceUsdPerHour(r.priceUsdPerHour()).setState(r.state().name()).setReason(r.reason())
                            .setDecision(r.decision())
                            .setCostUsd(r.costUsd(now)).setRequestTime(ts(r.requestedAt()));
                    if (r.providerInstance() != null) i.setProviderInstanceId(r.providerInstance());
                    if (r.launchedAt() != null) i.setLaunchTime(ts(r.launchedAt()));
                    if (r.joinedAt() != null) i.setJoinTime(ts(r.joinedAt()));
                    if (r.terminatedAt() != null) i.setTerminateTime(ts(r.terminatedAt()));
                    b.addInstances(i);
                }
                out.onNext(b.build());
                out.onCompleted();
            }, e -> out.onError(GrpcErrors.toStatus(e)));
        }

        private static Timestamp ts(java.time.Instant t) {
            return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
        }

        @Override
        public void listPools(ListPoolsRequest request, StreamObserver<ListPoolsResponse> out) {
            pools().subscribe().with(pools -> {
                out.onNext(ListPoolsResponse.newBuilder().addAllPools(pools).build());
                out.onCompleted();
            }, e -> out.onError(GrpcErrors.toStatus(e)));
        }

        @Override
        public void getPool(GetPoolRequest request, StreamObserver<GetPoolResponse> out) {
            pools().subscribe().with(pools -> {
                var pool = pools.stream().filter(p -> p.getName().equals(request.getName())).findFirst();
                if (pool.isEmpty()) {
                    out.onError(GrpcErrors.notFound("no pool " + request.getName()));
                    return;
                }
                out.onNext(GetPoolResponse.newBuilder().setPool(pool.get()).build());
                out.onCompleted();
            }, e -> out.onError(GrpcErrors.toStatus(e)));
        }
    }

    @GrpcService
    public static class Nodes extends NodeServiceGrpc.NodeServiceImplBase {
        private static final Duration DEFAULT_TTL = Duration.ofMinutes(15);
        private static final Duration MAX_TTL = Duration.ofHours(24);
        private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?");

        private final ClusterView cluster;
        private final AgentCredentials credentials;

        public Nodes(ClusterView cluster, AgentCredentials credentials) {
            this.cluster = cluster;
            this.credentials = credentials;
        }

        @Override
        public void createJoinToken(CreateJoinTokenRequest request,
                                    StreamObserver<CreateJoinTokenResponse> out) {
            List<FieldViolation> v = new ArrayList<>();
            if (!NAME.matcher(request.getNodeName()).matches()) v.add(violation("node_name", "required: a node name"));
            if (!NAME.matcher(request.getPool()).matches()) v.add(violation("pool", "required: a pool name"));
            Duration ttl = request.hasTtl()
                    ? Duration.ofSeconds(request.getTtl().getSeconds(), request.getTtl().getNanos()) : DEFAULT_TTL;
            if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) v.add(violation("ttl", "must be positive and at most 24h"));
            if (!v.isEmpty()) {
                out.onError(GrpcErrors.invalid(v));
                return;
            }
            credentials.mintJoinToken(request.getNodeName(), request.getPool(), ttl).subscribe().with(m -> {
                out.onNext(CreateJoinTokenResponse.newBuilder().setToken(m.token())
                        .setExpireTime(Timestamp.newBuilder().setSeconds(m.expires().getEpochSecond())
                                .setNanos(m.expires().getNano())).build());
                out.onCompleted();
            }, e -> out.onError(GrpcErrors.toStatus(e)));
        }

        @Override
        public void listNodes(ListNodesRequest request, StreamObserver<ListNodesResponse> out) {
            cluster.nodes(request.getPool().isEmpty() ? null : request.getPool(), null).subscribe().with(nodes -> {
                out.onNext(ListNodesResponse.newBuilder().addAllNodes(nodes).build());
                out.onCompleted();
            }, e -> out.onError(GrpcErrors.toStatus(e)));
        }

        @Override
        public void getNode(GetNodeRequest request, StreamObserver<GetNodeResponse> out) {
            cluster.nodes(null, request.getName()).subscribe().with(nodes -> {
                if (nodes.isEmpty()) {
                    out.onError(GrpcErrors.notFound("no node " + request.getName()));
                    return;
                }
                out.onNext(GetNodeResponse.newBuilder().setNode(nodes.get(0)).build());
                out.onCompleted();
            }, e -> out.onError(GrpcErrors.toStatus(e)));
        }
    }
}
