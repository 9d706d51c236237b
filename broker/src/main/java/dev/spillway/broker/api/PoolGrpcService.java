package dev.spillway.broker.api;

import dev.spillway.api.v1.GetPoolRequest;
import dev.spillway.api.v1.GetPoolResponse;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.ListInstancesResponse;
import dev.spillway.api.v1.ListPoolsRequest;
import dev.spillway.api.v1.ListPoolsResponse;
import dev.spillway.api.v1.Pool;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.StopBurstingRequest;
import dev.spillway.api.v1.StopBurstingResponse;
import dev.spillway.broker.burst.BurstController;
import dev.spillway.broker.burst.BurstStatus;
import dev.spillway.broker.cluster.ClusterView;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.store.InstanceStore;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.smallrye.mutiny.Uni;
import java.time.Clock;
import java.time.Instant;
import java.util.List;

/** spillway.v1.PoolService: pools, each cloud pool with how it stands for bursting, and cloud instances. */
@GrpcService
public class PoolGrpcService extends PoolServiceGrpc.PoolServiceImplBase {

    private final ClusterView cluster;
    private final InstanceStore instances;
    private final BurstStatus burst;
    private final Clock clock;
    private final BurstController controller;
    private final Audit audit;

    public PoolGrpcService(ClusterView cluster, InstanceStore instances, BurstStatus burst, Clock clock, BurstController controller,
                           Audit audit) {
        this.controller = controller;
        this.audit = audit;
        this.cluster = cluster;
        this.instances = instances;
        this.burst = burst;
        this.clock = clock;
    }

    static Uni<List<Pool>> pools(ClusterView cluster, BurstStatus burst) {
        return cluster.pools().flatMap(pools -> burst.pools().map(status -> pools.stream()
                .map(p -> ProtoMapping.pool(p, status.get(p.name())))
                .toList()));
    }

    @Override
    public void listInstances(ListInstancesRequest request, StreamObserver<ListInstancesResponse> out) {
        instances.all().subscribe().with(rows -> {
            Instant now = clock.instant();
            ListInstancesResponse.Builder b = ListInstancesResponse.newBuilder();
            for (InstanceStore.InstanceRow r : rows) {
                if (!request.getPool().isEmpty() && !request.getPool().equals(r.pool())) continue;
                b.addInstances(ProtoMapping.instance(r, now));
            }
            out.onNext(b.build());
            out.onCompleted();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }

    @Override
    public void listPools(ListPoolsRequest request, StreamObserver<ListPoolsResponse> out) {
        pools(cluster, burst).subscribe().with(pools -> {
            out.onNext(ListPoolsResponse.newBuilder().addAllPools(pools).build());
            out.onCompleted();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }

    @Override
    public void getPool(GetPoolRequest request, StreamObserver<GetPoolResponse> out) {
        pools(cluster, burst).map(pools -> pools.stream().filter(p -> p.getName().equals(request.getName())).findFirst()
                        .orElseThrow(() -> new NotFound("no pool " + request.getName())))
                .subscribe().with(pool -> {
                    out.onNext(GetPoolResponse.newBuilder().setPool(pool).build());
                    out.onCompleted();
                }, e -> out.onError(ApiErrors.toStatus(e)));
    }

    @Override
    public void stopBursting(StopBurstingRequest request, StreamObserver<StopBurstingResponse> out) {
        var caller = CallerInterceptor.caller();
        String remote = CallerInterceptor.remote();
        // Terminating instances calls the clouds: off the event loop.
        Uni.createFrom().item(() -> controller.windDown("bursting stopped by " + caller.subject()))
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                .call(n -> audit.record(caller, null, "pool.stop-bursting", "*", n + " instances terminated", remote))
                .subscribe().with(n -> {
                    out.onNext(StopBurstingResponse.newBuilder().setTerminatedInstances(n).build());
                    out.onCompleted();
                }, e -> out.onError(ApiErrors.toStatus(e)));
    }
}
