package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Durations;
import com.google.rpc.BadRequest;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.RetryPolicy;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What admission refuses, over real gRPC: control characters and bad backoffs in the spec, and jobs no registered node
 * could ever run (pools, jurisdictions, node selector, resources, together). Label values and pool names are unique per
 * run: the test database keeps the nodes of earlier runs.
 */
@QuarkusTest
class AdmissionApiTest {

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    Pool pool;

    private ManagedChannel channel;
    private JobServiceGrpc.JobServiceBlockingStub jobs;
    private final List<String> admitted = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final String run = UUID.randomUUID().toString().substring(0, 8);

    @BeforeEach
    void connect() {
        channel = TestCallers.channel(url, TestCallers.key(keys, "default", Role.ADMIN));
        jobs = JobServiceGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void cancelAndDisconnect() {
        // Admitted jobs pinned to this run's nodes would wait in the shared test database for ever.
        admitted.forEach(id -> jobs.cancelJob(CancelJobRequest.newBuilder().setName(id).build()));
        channel.shutdownNow();
    }

    private long rows(String table) {
        return pool.query("SELECT count(*) AS n FROM " + table).execute().await().indefinitely().iterator().next().getLong("n");
    }

    private String submit(UnaryOperator<JobSpec.Builder> change) {
        String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(change.apply(JobApiTest.valid().toBuilder().setTaskCount(1))).build()).getUid();
        admitted.add(id);
        return id;
    }

    private List<BadRequest.FieldViolation> refused(UnaryOperator<JobSpec.Builder> change) {
        long before = rows("job");
        List<BadRequest.FieldViolation> violations = violations(change);
        assertThat(rows("job")).as("no job row written").isEqualTo(before);
        return violations;
    }

    private List<BadRequest.FieldViolation> violations(UnaryOperator<JobSpec.Builder> change) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(change.apply(JobApiTest.valid().toBuilder().setTaskCount(1))).build()));
        assertThat(e).as("the submission must be refused").isNotNull();
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        return StatusProto.fromThrowable(e).getDetailsList().stream().filter(a -> a.is(BadRequest.class)).flatMap(a -> {
            try {
                return a.unpack(BadRequest.class).getFieldViolationsList().stream();
            } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                throw new AssertionError(x);
            }
        }).toList();
    }

    private FakeAgent node(String name, String pool, long cpuMillis, Map<String, String> labels) {
        FakeAgent agent = new FakeAgent(url.getHost(), url.getPort(), name, "test-agent-token");
        agent.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(name).setPool(pool).putAllLabels(labels)
                .setCapacity(Resources.newBuilder().setCpuMillis(cpuMillis).setMemoryMib(4096))).build());
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.registered() != null);
        return agent;
    }

    @Test
    void aNulInALabelIsRefusedNamingItAndTheBatchAroundItIsStored() {
        // Submitted together, so they would share a group commit: the bad one must not take the others down with it.
        List<CompletableFuture<Object>> calls = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            int n = i;
            calls.add(CompletableFuture.supplyAsync(() -> n == 3
                    ? violations(b -> b.putLabels("team", "re\u0000search"))
                    : submit(b -> b.putLabels("team", "research"))));
        }
        List<Object> results = calls.stream().map(CompletableFuture::join).toList();
        @SuppressWarnings("unchecked")
        List<BadRequest.FieldViolation> violations = (List<BadRequest.FieldViolation>) results.get(3);
        assertThat(violations).extracting(BadRequest.FieldViolation::getField).containsExactly("spec.labels[team]");
        assertThat(violations.get(0).getDescription()).contains("U+0000");
        assertThat(results).filteredOn(r -> r instanceof String).hasSize(7);
    }

    @Test
    void controlCharactersAreRefusedWhereTheyCannotGoAndNewlinesPassInCommands() {
        assertThat(refused(b -> {
            b.setName("nightly\u001b[31m").getTaskBuilder().addPools("on\tprem").putNodeSelector("disk", "ss\u0007d").putEnv("A\u0001", "x")
                    .addCommand("arg\u0000");
            return b;
        })).extracting(BadRequest.FieldViolation::getField).containsExactlyInAnyOrder("spec.name", "spec.task.pools[0]",
                "spec.task.node_selector[disk]", "spec.task.env[A\\u0001]", "spec.task.command[1]");
        submit(b -> {
            b.getTaskBuilder().clearCommand().addCommand("/bin/sh").addCommand("-c").addCommand("echo one\n\techo two").putEnv("PEM", "-----\nkey\n-----");
            return b;
        });
    }

    @Test
    void backoffsAreBoundedByName() {
        assertThat(refused(b -> b.setRetry(RetryPolicy.newBuilder().setMaxRetries(3).setMaxBackoff(Durations.fromHours(48)))))
                .extracting(BadRequest.FieldViolation::getField, BadRequest.FieldViolation::getDescription)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("spec.retry.max_backoff", "at most 24h (got 48h)"));
        assertThat(refused(b -> b.setRetry(RetryPolicy.newBuilder().setInitialBackoff(Durations.fromMinutes(2)).setMaxBackoff(Durations.fromMinutes(1)))))
                .extracting(BadRequest.FieldViolation::getField).containsExactly("spec.retry.initial_backoff");
    }

    @Test
    void aSelectorNoNodeCarriesIsRefusedSayingWhatNodesCarry() {
        String have = "blue-" + run;
        try (FakeAgent n = node("colour-node-" + run, "onprem", 2000, Map.of("colour-" + run, have))) {
            var v = refused(b -> {
                b.getTaskBuilder().putNodeSelector("colour-" + run, "red");
                return b;
            });
            assertThat(v).extracting(BadRequest.FieldViolation::getField).containsExactly("spec.task.node_selector");
            assertThat(v.get(0).getDescription()).contains("colour-" + run + "=red").contains(have);
            submit(b -> {
                b.getTaskBuilder().putNodeSelector("colour-" + run, have);
                return b;
            });
        }
    }

    @Test
    void unknownPoolsAndJurisdictionsAreRefusedSayingWhatExists() {
        try (FakeAgent n = node("pool-node-" + run, "pool-" + run, 2000, Map.of())) {
            var pools = refused(b -> {
                b.getTaskBuilder().addPools("no-such-pool-" + run);
                return b;
            });
            assertThat(pools).extracting(BadRequest.FieldViolation::getField).containsExactly("spec.task.pools");
            assertThat(pools.get(0).getDescription()).contains("no-such-pool-" + run);
            var jurisdictions = refused(b -> {
                b.getTaskBuilder().addJurisdictions("MARS-" + run);
                return b;
            });
            assertThat(jurisdictions).extracting(BadRequest.FieldViolation::getField).containsExactly("spec.task.jurisdictions");
            assertThat(jurisdictions.get(0).getDescription()).contains("MARS-" + run);
            submit(b -> {
                b.getTaskBuilder().addPools("pool-" + run);
                return b;
            });
        }
    }

    @Test
    void aJobIsRefusedOnlyWhenNoSingleNodeMeetsEverythingAndTheViolationSaysWhichRuleExcludesWhat() {
        String small = "small-" + run;
        String big = "big-" + run;
        try (FakeAgent a = node("small-node-" + run, small, 1000, Map.of("tier-" + run, "gold"));
             FakeAgent b2 = node("big-node-" + run, big, 8000, Map.of("tier-" + run, "silver"))) {
            // Gold nodes exist, but only in the small pool: the selector is what leaves nothing within the pools asked for.
            var selector = refused(b -> {
                b.getTaskBuilder().addPools(big).putNodeSelector("tier-" + run, "gold");
                return b;
            });
            assertThat(selector).extracting(BadRequest.FieldViolation::getField).containsExactly("spec.task.node_selector");
            assertThat(selector.get(0).getDescription()).contains("in pools [" + big + "]").contains("silver")
                    .contains("other places would, but pools excludes them");
            // Gold and 4 cpu: the gold node is too small, the big node is silver.
            var size = refused(b -> {
                b.getTaskBuilder().putNodeSelector("tier-" + run, "gold").getResourcesBuilder().setCpuMillis(4000);
                return b;
            });
            assertThat(size).extracting(BadRequest.FieldViolation::getField).containsExactly("spec.task.resources");
            assertThat(size.get(0).getDescription()).contains("tier-" + run + "=gold").contains("4 cpu").contains(small + ": 1 cpu");
            // Each alone is met: silver with 4 cpu, gold with 1 cpu.
            submit(b -> {
                b.getTaskBuilder().putNodeSelector("tier-" + run, "silver").getResourcesBuilder().setCpuMillis(4000);
                return b;
            });
            submit(b -> {
                b.getTaskBuilder().putNodeSelector("tier-" + run, "gold").getResourcesBuilder().setCpuMillis(1000);
                return b;
            });
        }
    }
}
