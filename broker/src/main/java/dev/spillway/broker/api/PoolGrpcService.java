package dev.spillway.broker.api;

import dev.spillway.api.ResourceNames;
import dev.spillway.api.v1.GetPoolRequest;
import dev.spillway.api.v1.GetQueueStatusRequest;
import dev.spillway.api.v1.GetQueueStatusResponse;
import dev.spillway.api.v1.TenantQueue;
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
import dev.spillway.broker.listing.Filters;
import dev.spillway.broker.listing.Pages;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.store.InstanceStore;
import dev.spillway.broker.store.QueueStore;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.Role;
import dev.spillway.core.access.TenantScope;
import dev.spillway.core.scheduling.FairShares;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Waiting;
import dev.spillway.core.filter.Condition;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** spillway.v1.PoolService: pools, each cloud pool with how it stands for bursting, and cloud instances. */
@GrpcService
public class PoolGrpcService extends PoolServiceGrpc.PoolServiceImplBase {

    private final ClusterView cluster;
    private final InstanceStore instances;
    private final BurstStatus burst;
    private final Clock clock;
    private final BurstController controller;
    private final Audit audit;
    private final SchedulingLoop scheduler;
    private final QueueStore queue;

    public PoolGrpcService(ClusterView cluster, InstanceStore instances, BurstStatus burst, Clock clock, BurstController controller,
                           Audit audit, SchedulingLoop scheduler, QueueStore queue) {
        this.scheduler = scheduler;
        this.queue = queue;
        this.controller = controller;
        this.audit = audit;
        this.cluster = cluster;
        this.instances = instances;
        this.burst = burst;
        this.clock = clock;
    }

    /** Every pool with its capacity, its cloud standing and the demand the last scheduling cycle left waiting on it (the leader's view). */
    static Uni<List<Pool>> pools(ClusterView cluster, BurstStatus burst, SchedulingLoop scheduler) {
        return cluster.pools().flatMap(pools -> burst.pools().map(status -> {
            var waiting = Waiting.byPool(scheduler.lastUnplaced(), pools.stream().map(ClusterView.PoolView::name).toList());
            return pools.stream().map(p -> ProtoMapping.pool(p, status.get(p.name()), waiting.get(p.name()))).toList();
        }));
    }

    @Override
    public void getQueueStatus(GetQueueStatusRequest request, StreamObserver<GetQueueStatusResponse> out) {
        Caller caller = CallerInterceptor.caller();
        // Operators run the machines: they see every tenant's counts (never a job's contents).
        TenantScope scope = caller.role() == Role.OPERATOR ? TenantScope.all() : caller.readScope();
        ApiErrors.respond(Uni.combine().all().unis(queue.byTenant(), cluster.pools()).asTuple().map(both -> {
            Resources capacity = both.getItem2().stream().map(ClusterView.PoolView::capacity).reduce(Resources.ZERO, Resources::plus);
            List<QueueStore.TenantLoad> loads = both.getItem1();
            Map<String, FairShares.Share> shares = FairShares.of(capacity, loads.stream().map(QueueStore.TenantLoad::demand).toList());
            GetQueueStatusResponse.Builder b = GetQueueStatusResponse.newBuilder().setCapacity(ProtoMapping.resources(capacity));
            for (QueueStore.TenantLoad load : loads) {
                if (!scope.includes(load.tenant())) continue;
                FairShares.Share share = shares.get(load.tenant());
                b.addTenants(TenantQueue.newBuilder().setTenant(load.tenant()).setQueuedTasks(load.queuedTasks())
                        .setRunningTasks(load.runningTasks()).setAllocated(ProtoMapping.resources(load.allocated()))
                        .setQueued(ProtoMapping.resources(load.queued())).setShare(share.share()).setFairShare(share.fairShare()));
            }
            return b.build();
        }), out);
    }

    @Override
    public void listInstances(ListInstancesRequest request, StreamObserver<ListInstancesResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            String parent = request.getParent();
            String pool = parent.isEmpty() || parent.equals(ResourceNames.EVERY_POOL) ? null : RequestNames.pool("parent", parent);
            int size = Pages.size(request.getPageSize(), 100, 1000);
            Condition filter = Filters.parse(InstanceStore.FILTER, request.getFilter());
            String[] filters = {pool, filter.toString()};
            String after = Pages.after(request.getPageToken(), "instances", filters);
            InstanceStore.After from;
            try {
                from = after == null ? null : InstanceStore.After.parse(after);
            } catch (RuntimeException e) {
                throw dev.spillway.broker.errors.InvalidRequest.of("page_token", "not a page token of this listing");
            }
            return instances.page(pool, filter, from, size + 1).map(rows -> {
                Instant now = clock.instant();
                boolean more = rows.size() > size;
                List<InstanceStore.InstanceRow> page = more ? rows.subList(0, size) : rows;
                ListInstancesResponse.Builder b = ListInstancesResponse.newBuilder();
                page.forEach(r -> b.addInstances(ProtoMapping.instance(r, now)));
                if (more) b.setNextPageToken(Pages.token(InstanceStore.After.of(page.get(page.size() - 1)).toString(), "instances", filters));
                return b.build();
            });
        }), out);
    }

    @Override
    public void listPools(ListPoolsRequest request, StreamObserver<ListPoolsResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            int size = Pages.size(request.getPageSize(), 100, 1000);
            return pools(cluster, burst, scheduler).map(pools -> {
                Pages.Page<Pool> page = Pages.slice(pools, Pool::getName, size, request.getPageToken(), "pools");
                return ListPoolsResponse.newBuilder().addAllPools(page.items()).setNextPageToken(page.nextPageToken()).build();
            });
        }), out);
    }

    @Override
    public void getPool(GetPoolRequest request, StreamObserver<Pool> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            String id = RequestNames.pool("name", request.getName());
            return pools(cluster, burst, scheduler).map(pools -> pools.stream().filter(p -> p.getName().equals(ResourceNames.pool(id))).findFirst()
                    .orElseThrow(() -> new NotFound(ResourceNames.pool(id), "no pool " + id)));
        }), out);
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
