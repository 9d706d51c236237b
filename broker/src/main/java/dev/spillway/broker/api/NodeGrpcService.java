package dev.spillway.broker.api;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.CreateJoinTokenRequest;
import dev.spillway.api.v1.CreateJoinTokenResponse;
import dev.spillway.api.v1.GetNodeRequest;
import dev.spillway.api.v1.ListNodesRequest;
import dev.spillway.api.v1.ListNodesResponse;
import dev.spillway.api.v1.Node;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.broker.agents.AgentCredentials;
import dev.spillway.broker.cluster.ClusterView;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.Violation;
import dev.spillway.broker.listing.Pages;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.store.JoinTokenStore;
import dev.spillway.core.scheduling.Resources;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Pattern;

/** spillway.v1.NodeService: nodes, and one-time join tokens for new ones. */
@GrpcService
public class NodeGrpcService extends NodeServiceGrpc.NodeServiceImplBase {

    private static final Duration DEFAULT_TTL = Duration.ofMinutes(15);
    private static final Duration MAX_TTL = Duration.ofHours(24);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?");
    private static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?");
    private static final int MAX_LABELS = 64;

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
        String pool = dev.spillway.api.ResourceNames.parsePool(request.getPool()).filter(p -> NAME.matcher(p).matches()).orElse(null);
        if (pool == null) v.add(new Violation("pool", dev.spillway.api.ResourceNames.problem("pool", request.getPool())));
        Duration ttl = request.hasTtl() ? Duration.ofSeconds(request.getTtl().getSeconds(), request.getTtl().getNanos()) : DEFAULT_TTL;
        if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) v.add(new Violation("ttl", "must be positive and at most 24h"));
        if (request.getLabelsCount() > MAX_LABELS) v.add(new Violation("labels", "at most " + MAX_LABELS + " labels (got " + request.getLabelsCount() + ")"));
        new TreeMap<>(request.getLabelsMap()).forEach((key, value) -> {
            if (v.size() >= MAX_LABELS) return;
            if (!LABEL_KEY.matcher(key).matches()) {
                v.add(new Violation("labels", "not a valid label key (1-63 characters: letters, digits, '.', '_', '-', '/'): "
                        + key.replaceAll("\\p{Cntrl}", "?")));
            } else if (value.isEmpty() || value.length() > 256 || value.chars().anyMatch(Character::isISOControl)) {
                v.add(new Violation("labels[" + key + "]", "a value of 1-256 printable characters"));
            }
        });
        Resources ceiling = null;
        if (request.hasMaxCapacity()) {
            var c = request.getMaxCapacity();
            if (c.getCpuMillis() <= 0) v.add(new Violation("max_capacity.cpu_millis", "must be positive"));
            if (c.getMemoryMib() <= 0) v.add(new Violation("max_capacity.memory_mib", "must be positive"));
            if (c.getGpus() < 0) v.add(new Violation("max_capacity.gpus", "must not be negative"));
            if (c.getCpuMillis() > 0 && c.getMemoryMib() > 0 && c.getGpus() >= 0) ceiling = new Resources(c.getCpuMillis(), c.getMemoryMib(), c.getGpus());
        }
        if (!v.isEmpty()) {
            out.onError(ApiErrors.invalid(v));
            return;
        }
        var caller = CallerInterceptor.caller();
        String remote = CallerInterceptor.remote();
        JoinTokenStore.Grant grant = new JoinTokenStore.Grant(request.getNodeName(), pool, request.getLabelsMap(), ceiling,
                request.getReplaceExisting());
        String detail = "pool " + grant.pool() + (grant.labels().isEmpty() ? "" : ", labels " + new TreeMap<>(grant.labels()))
                + (ceiling == null ? "" : ", ceiling " + ceiling) + (grant.replaceExisting() ? ", re-provisioning" : "");
        credentials.mintJoinToken(grant, ttl)
                .call(m -> audit.record(caller, null, "jointoken.create", request.getNodeName(), detail + ", expires " + m.expires(), remote))
                .subscribe().with(m -> {
            out.onNext(CreateJoinTokenResponse.newBuilder().setToken(m.token())
                    .setExpireTime(Timestamp.newBuilder().setSeconds(m.expires().getEpochSecond()).setNanos(m.expires().getNano())).build());
            out.onCompleted();
        }, e -> out.onError(ApiErrors.toStatus(e)));
    }

    @Override
    public void listNodes(ListNodesRequest request, StreamObserver<ListNodesResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            String pool = request.getPool().isEmpty() ? null : RequestNames.pool("pool", request.getPool());
            int size = Pages.size(request.getPageSize(), 100, 1000);
            return cluster.nodes(pool, null).map(nodes -> {
                List<Node> sorted = nodes.stream().map(ProtoMapping::node).sorted(java.util.Comparator.comparing(Node::getName)).toList();
                Pages.Page<Node> page = Pages.slice(sorted, Node::getName, size, request.getPageToken(), "nodes", pool);
                return ListNodesResponse.newBuilder().addAllNodes(page.items()).setNextPageToken(page.nextPageToken()).build();
            });
        }), out);
    }

    @Override
    public void getNode(GetNodeRequest request, StreamObserver<Node> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            String name = RequestNames.node("name", request.getName());
            return cluster.nodes(null, name).map(nodes -> {
                if (nodes.isEmpty()) throw new NotFound(dev.spillway.api.ResourceNames.node(name), "no node " + name);
                return ProtoMapping.node(nodes.get(0));
            });
        }), out);
    }
}
