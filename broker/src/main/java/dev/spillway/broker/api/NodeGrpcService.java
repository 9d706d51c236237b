package dev.spillway.broker.api;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.CreateJoinTokenRequest;
import dev.spillway.api.v1.CreateJoinTokenResponse;
import dev.spillway.api.v1.GetNodeRequest;
import dev.spillway.api.v1.GetNodeResponse;
import dev.spillway.api.v1.ListNodesRequest;
import dev.spillway.api.v1.ListNodesResponse;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.broker.agents.AgentCredentials;
import dev.spillway.broker.cluster.ClusterView;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.Violation;
import dev.spillway.broker.security.Audit;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** spillway.v1.NodeService: nodes, and one-time join tokens for new ones. */
@GrpcService
public class NodeGrpcService extends NodeServiceGrpc.NodeServiceImplBase {

    private static final Duration DEFAULT_TTL = Duration.ofMinutes(15);
    private static final Duration MAX_TTL = Duration.ofHours(24);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?");

    private final ClusterView cluster;
    private final AgentCredentials credentials;
    private final Audit audit;

    public NodeGrpcService(ClusterView cluster, AgentCredentials credentials, Audit audit) {
        this.audit = audit;
        this.cluster = cluster;
        this.credentials = credentials;
    }

    @Override
    public void createJoinToken(CreateJoinTokenRequest request, StreamObserver<CreateJoinTokenResponse> out) {
        List<Violation> v = new ArrayList<>();
        if (!NAME.matcher(request.getNodeName()).matches()) v.add(new Violation("node_name", "required: a node name"));
        if (!NAME.matcher(request.getPool()).matches()) v.add(new Violation("pool", "required: a pool name"));
        Duration ttl = request.hasTtl() ? Duration.ofSeconds(request.getTtl().getSeconds(), request.getTtl().getNanos()) : DEFAULT_TTL;
        if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) v.add(new Violation("ttl", "must be positive and at most 24h"));
        if (!v.isEmpty()) {
            out.onError(ApiErrors.invalid(v));
            return;
        }
        var caller = CallerInterceptor.caller();
        String remote = CallerInterceptor.remote();
        credentials.mintJoinToken(request.getNodeName(), request.getPool(), ttl)
                .call(m -> audit.record(caller, null, "jointoken.create", request.getNodeName(),
                        "pool " + request.getPool() + ", expires " + m.expires(), remote))
                .subscribe().with(m -> {
            out.onNext(CreateJoinTokenResponse.newBuilder().setToken(m.token())
                    .setExpireTime(Timestamp.newBuilder().setSeconds(m.expires().getEpochSecond()).setNanos(m.expires().getNano())).build());
            out.onCompleted();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }

    @Override
    public void listNodes(ListNodesRequest request, StreamObserver<ListNodesResponse> out) {
        cluster.nodes(request.getPool().isEmpty() ? null : request.getPool(), null).subscribe().with(nodes -> {
            out.onNext(ListNodesResponse.newBuilder().addAllNodes(nodes.stream().map(ProtoMapping::node).toList()).build());
            out.onCompleted();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }

    @Override
    public void getNode(GetNodeRequest request, StreamObserver<GetNodeResponse> out) {
        cluster.nodes(null, request.getName()).subscribe().with(nodes -> {
            if (nodes.isEmpty()) {
                out.onError(ApiErrors.toStatus(new NotFound("no node " + request.getName())));
                return;
            }
            out.onNext(GetNodeResponse.newBuilder().setNode(ProtoMapping.node(nodes.get(0))).build());
            out.onCompleted();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }
}
