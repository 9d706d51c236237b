package dev.spillway.broker.api;

import static dev.spillway.broker.api.Conformance.pages;
import static dev.spillway.broker.api.Conformance.violatedField;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.spillway.api.Usd;
import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.GetNodeRequest;
import dev.spillway.api.v1.GetPoolRequest;
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
import dev.spillway.api.v1.PoolKind;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.net.URL;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * PoolService and NodeService as the API rules say they behave: pools, nodes and instances are
 * named (`pools/{pool}`, `nodes/{node}`, `pools/{pool}/instances/{instance}`) and their bare ids
 * are names too; Get returns the resource; every List pages each item exactly once at any page
 * size, coerces page sizes above the maximum and refuses a token reused with other filters;
 * instances filter by state; prices and costs are google.type.Money in USD.
 */
@QuarkusTest
class ClusterServiceConformanceTest {

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    io.vertx.mutiny.sqlclient.Pool db;

    private ManagedChannel channel;
    private PoolServiceGrpc.PoolServiceBlockingStub pools;
    private NodeServiceGrpc.NodeServiceBlockingStub nodes;

    @BeforeEach
    void connect() {
        channel = TestCallers.channel(url, TestCallers.key(keys, "default", Role.ADMIN));
        pools = PoolServiceGrpc.newBlockingStub(channel);
        nodes = NodeServiceGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void disconnect() {
        channel.shutdownNow();
    }

    /** A pool of its own with 250 disconnected nodes and 250 instances (every fifth live), written as the broker would. */
    private String poolWith250() {
        String pool = "conf-" + UUID.randomUUID().toString().substring(0, 8);
        db.preparedQuery("INSERT INTO pool (name, kind) VALUES ($1, 'on-prem')").execute(Tuple.of(pool)).await().indefinitely();
        for (int i = 0; i < 250; i++) {
            db.preparedQuery("""
                    INSERT INTO node (name, id, pool, state, cpu_millis, memory_mib, gpus) VALUES ($1, $2, $3, 'DISCONNECTED', 1000, 1024, 0)""")
                    .execute(Tuple.of(pool + "-n" + i, UUID.randomUUID(), pool)).await().indefinitely();
            db.preparedQuery("""
                    INSERT INTO cloud_instance (id, pool, node_name, instance_type, region, zone, spot, price_usd_per_hour, cpu_millis,
                                                memory_mib, gpus, state, requested_at)
                    VALUES ($1, $2, $3, 'm7i.large', 'eu-central-1', 'eu-central-1a', false, 0.1008, 2000, 8192, 0, $4, now() - make_interval(secs => $5))""")
                    .execute(Tuple.of(UUID.randomUUID(), pool, pool + "-i" + i, i % 5 == 0 ? "JOINED" : "TERMINATED", 1000 - i))
                    .await().indefinitely();
        }
        return pool;
    }

    @Test
    void poolsNodesAndInstancesAreNamedAndPagedEachExactlyOnce() {
        String pool = poolWith250();

        Pool byName = pools.getPool(GetPoolRequest.newBuilder().setName("pools/" + pool).build());
        assertThat(byName.getName()).isEqualTo("pools/" + pool);
        assertThat(byName.getKind()).isEqualTo(PoolKind.POOL_KIND_ON_PREM);
        assertThat(pools.getPool(GetPoolRequest.newBuilder().setName(pool).build())).isEqualTo(byName);
        assertThat(pages(t -> pools.listPools(ListPoolsRequest.newBuilder().setPageSize(1).setPageToken(t).build()),
                ListPoolsResponse::getPoolsList, ListPoolsResponse::getNextPageToken)).extracting(Pool::getName)
                .doesNotHaveDuplicates().contains("pools/" + pool).isSorted();

        for (int size : new int[] {1, 7, 100, 1_000_000}) {
            List<Node> listed = pages(t -> nodes.listNodes(ListNodesRequest.newBuilder().setPool("pools/" + pool).setPageSize(size).setPageToken(t).build()),
                    ListNodesResponse::getNodesList, ListNodesResponse::getNextPageToken);
            assertThat(listed).as("page size %d", size).hasSize(250).extracting(Node::getName).doesNotHaveDuplicates().allMatch(n -> n.startsWith("nodes/" + pool));
            List<CloudInstance> instances = pages(t -> pools.listInstances(ListInstancesRequest.newBuilder().setParent("pools/" + pool).setPageSize(size)
                    .setPageToken(t).build()), ListInstancesResponse::getInstancesList, ListInstancesResponse::getNextPageToken);
            assertThat(instances).as("page size %d", size).hasSize(250).extracting(CloudInstance::getName).doesNotHaveDuplicates()
                    .allMatch(n -> n.startsWith("pools/" + pool + "/instances/"));
        }
        Node one = nodes.getNode(GetNodeRequest.newBuilder().setName("nodes/" + pool + "-n7").build());
        assertThat(one.getName()).isEqualTo("nodes/" + pool + "-n7");
        assertThat(nodes.getNode(GetNodeRequest.newBuilder().setName(pool + "-n7").build())).isEqualTo(one);

        // A state filter, across every pool (the AIP-159 wildcard) and in this one.
        List<CloudInstance> live = pages(t -> pools.listInstances(ListInstancesRequest.newBuilder().setParent("pools/" + pool)
                .setFilter("state = JOINED").setPageSize(7).setPageToken(t).build()),
                ListInstancesResponse::getInstancesList, ListInstancesResponse::getNextPageToken);
        assertThat(live).hasSize(50).allSatisfy(i -> {
            assertThat(i.getState()).isEqualTo(InstanceState.INSTANCE_STATE_JOINED);
            assertThat(i.getPricePerHour().getCurrencyCode()).isEqualTo("USD");
            assertThat(Usd.micros(i.getPricePerHour())).isEqualTo(100_800);
            assertThat(Usd.micros(i.getCost())).as("never launched: nothing billed").isZero();
        });
        assertThat(live).extracting(CloudInstance::getRequestTime).extracting(t -> t.getSeconds()).isSorted();
        assertThat(pages(t -> pools.listInstances(ListInstancesRequest.newBuilder().setParent("pools/-").setFilter("state = INSTANCE_STATE_JOINED")
                .setPageSize(1000).setPageToken(t).build()), ListInstancesResponse::getInstancesList, ListInstancesResponse::getNextPageToken))
                .filteredOn(i -> i.getPool().equals(pool)).hasSize(50);

        // Page sizes above the maximum are coerced; tokens only continue the listing they came from.
        assertThat(nodes.listNodes(ListNodesRequest.newBuilder().setPool(pool).setPageSize(1_000_000).build()).getNodesCount()).isEqualTo(250);
        String nodeToken = nodes.listNodes(ListNodesRequest.newBuilder().setPool(pool).setPageSize(7).build()).getNextPageToken();
        assertThat(violatedField(() -> nodes.listNodes(ListNodesRequest.newBuilder().setPool("onprem").setPageSize(7).setPageToken(nodeToken).build())))
                .isEqualTo("page_token");
        String instanceToken = pools.listInstances(ListInstancesRequest.newBuilder().setParent(pool).setPageSize(7).build()).getNextPageToken();
        assertThat(violatedField(() -> pools.listInstances(ListInstancesRequest.newBuilder().setParent(pool)
                .setFilter("state = JOINED").setPageSize(7).setPageToken(instanceToken).build()))).isEqualTo("page_token");
        assertThat(violatedField(() -> pools.listPools(ListPoolsRequest.newBuilder().setPageToken(nodeToken).build()))).isEqualTo("page_token");
    }

    @Test
    void unknownAndMalformedNamesAreNotFoundAndInvalid() {
        var missing = catchThrowableOfType(StatusRuntimeException.class, () -> pools.getPool(GetPoolRequest.newBuilder().setName("pools/no-such-pool").build()));
        assertThat(missing.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(ApiErrors.errorInfoOf(missing).getMetadataMap()).containsEntry("resource", "pools/no-such-pool");
        var noNode = catchThrowableOfType(StatusRuntimeException.class, () -> nodes.getNode(GetNodeRequest.newBuilder().setName("nodes/no-such-node").build()));
        assertThat(noNode.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(violatedField(() -> pools.getPool(GetPoolRequest.getDefaultInstance()))).isEqualTo("name");
        assertThat(violatedField(() -> nodes.getNode(GetNodeRequest.getDefaultInstance()))).isEqualTo("name");
        assertThat(violatedField(() -> pools.getPool(GetPoolRequest.newBuilder().setName("pools/a/b").build()))).isEqualTo("name");
        assertThat(violatedField(() -> pools.listInstances(ListInstancesRequest.newBuilder().setParent("nodes/x").build()))).isEqualTo("parent");
        assertThat(violatedField(() -> nodes.listNodes(ListNodesRequest.newBuilder().setPageSize(-1).build()))).isEqualTo("page_size");
    }
}
