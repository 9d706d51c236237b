package dev.spillway.broker.grpc;

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
import dev.spillway.broker.cluster.ClusterView;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** spillway.v1.PoolService and NodeService: read-only views of the cluster. */
public final class ClusterGrpcServices {

    private ClusterGrpcServices() {}

    @GrpcService
    public static class Pools extends PoolServiceGrpc.PoolServiceImplBase {
        private final ClusterView cluster;

        public Pools(ClusterView cluster) {
            this.cluster = cluster;
        }

        @Override
        public void listPools(ListPoolsRequest request, StreamObserver<ListPoolsResponse> out) {
            cluster.pools().subscribe().with(pools -> {
                out.onNext(ListPoolsResponse.newBuilder().addAllPools(pools).build());
                out.onCompleted();
            }, e -> out.onError(GrpcErrors.toStatus(e)));
        }

        @Override
        public void getPool(GetPoolRequest request, StreamObserver<GetPoolResponse> out) {
            cluster.pools().subscribe().with(pools -> {
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
        private final ClusterView cluster;

        public Nodes(ClusterView cluster) {
            this.cluster = cluster;
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
