package dev.spillway.broker.api;

import dev.spillway.api.v1.BrokerInstance;
import dev.spillway.api.v1.BrokerServiceGrpc;
import dev.spillway.api.v1.GetStatusRequest;
import dev.spillway.api.v1.GetStatusResponse;
import dev.spillway.api.v1.LeaderLease;
import dev.spillway.broker.leader.BrokerStatus;
import dev.spillway.broker.store.LeaderStore;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** spillway.v1.BrokerService: the brokers that share the database and which one leads. */
@GrpcService
public class BrokerGrpcService extends BrokerServiceGrpc.BrokerServiceImplBase {

    private final BrokerStatus status;

    public BrokerGrpcService(BrokerStatus status) {
        this.status = status;
    }

    @Override
    public void getStatus(GetStatusRequest request, StreamObserver<GetStatusResponse> out) {
        status.status().subscribe().with(s -> {
            out.onNext(response(s));
            out.onCompleted();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }

    static GetStatusResponse response(BrokerStatus.Status s) {
        GetStatusResponse.Builder b = GetStatusResponse.newBuilder().setAnsweredBy(s.answeredBy());
        LeaderStore.Lease l = s.lease();
        if (l != null) {
            LeaderLease.Builder lease = LeaderLease.newBuilder().setHolder(l.holder()).setEpoch(l.epoch()).setHeld(l.held());
            if (l.address() != null) lease.setAddress(l.address());
            if (l.acquiredAt() != null) lease.setAcquireTime(ProtoMapping.timestamp(l.acquiredAt()));
            if (l.expiresAt() != null) lease.setExpireTime(ProtoMapping.timestamp(l.expiresAt()));
            b.setLeader(lease);
        }
        for (LeaderStore.Peer p : s.brokers()) {
            b.addBrokers(BrokerInstance.newBuilder().setId(p.id()).setAddress(p.address()).setVersion(p.version())
                    .setStartTime(ProtoMapping.timestamp(p.startedAt())).setLastSeenTime(ProtoMapping.timestamp(p.seenAt()))
                    .setLeader(l != null && l.held() && p.id().equals(l.holder())));
        }
        return b.build();
    }
}
