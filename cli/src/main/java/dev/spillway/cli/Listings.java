package dev.spillway.cli;

import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.InstanceState;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.ListInstancesResponse;
import dev.spillway.api.v1.ListNodesRequest;
import dev.spillway.api.v1.ListNodesResponse;
import dev.spillway.api.v1.ListPoolsRequest;
import dev.spillway.api.v1.ListPoolsResponse;
import dev.spillway.api.v1.Node;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.Pool;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.client.FilterText;
import io.grpc.Channel;
import java.util.ArrayList;
import java.util.List;

/** Whole listings, read page by page as the API serves them. */
final class Listings {

    private Listings() {}

    /** The instances live now: requested to draining. */
    static final List<InstanceState> LIVE = List.of(InstanceState.INSTANCE_STATE_REQUESTED, InstanceState.INSTANCE_STATE_PROVISIONING,
            InstanceState.INSTANCE_STATE_JOINED, InstanceState.INSTANCE_STATE_DRAINING);

    /** Every pool. */
    static List<Pool> pools(Channel channel) {
        List<Pool> out = new ArrayList<>();
        var stub = PoolServiceGrpc.newBlockingStub(channel);
        String token = "";
        do {
            ListPoolsResponse page = stub.listPools(ListPoolsRequest.newBuilder().setPageSize(1000).setPageToken(token).build());
            out.addAll(page.getPoolsList());
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        return out;
    }

    /** Every node, or a pool's ({@code pool} null or empty: every pool's). */
    static List<Node> nodes(Channel channel, String pool) {
        List<Node> out = new ArrayList<>();
        var stub = NodeServiceGrpc.newBlockingStub(channel);
        String token = "";
        do {
            ListNodesResponse page = stub.listNodes(ListNodesRequest.newBuilder().setPool(pool == null ? "" : pool).setPageSize(1000)
                    .setPageToken(token).build());
            out.addAll(page.getNodesList());
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        return out;
    }

    /** Every instance, or a pool's, in these states (empty: any). */
    static List<CloudInstance> instances(Channel channel, String pool, List<InstanceState> states) {
        List<CloudInstance> out = new ArrayList<>();
        var stub = PoolServiceGrpc.newBlockingStub(channel);
        String token = "";
        do {
            ListInstancesResponse page = stub.listInstances(ListInstancesRequest.newBuilder().setParent(pool == null ? "" : pool)
                    .setFilter(new FilterText().anyOf("state", states.stream().map(Enum::name).toList()).text()).setPageSize(1000).setPageToken(token).build());
            out.addAll(page.getInstancesList());
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        return out;
    }

    /** The last segment of a resource name: {@code nodes/agent-1} → {@code agent-1}. */
    static String id(String name) {
        return name.substring(name.lastIndexOf('/') + 1);
    }
}
