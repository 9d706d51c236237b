package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Bursting end to end on the local cloud: on-prem fills, the broker launches instances (agent
 * processes joining with one-time tokens), tasks run on them, and idle instances are drained and
 * terminated; what each cost is its lifetime times its price.
 */
class BurstIT {

    @Test
    void burstsWhenOnPremIsFullAndHandsTheCapacityBackWhenIdle() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("burst", 1, "20s", o -> {
            ClusterFixture.withLocalCloud(o, 3, "4s");
            o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "2s");
        })) {
            JobSpec spec = ClusterFixture.shellJob(10, 1000, "sleep 4").toBuilder()
                    .setTask(ClusterFixture.shellJob(10, 1000, "sleep 4").getTask().toBuilder().setSpotTolerant(true)).build();
            String id = fx.submit(spec);
            Set<String> reasons = ConcurrentHashMap.newKeySet();
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() -> {
                JobAndTasks j = fx.job(id);
                if (!j.getJob().getPendingReason().isEmpty()) reasons.add(j.getJob().getPendingReason());
                return j.getJob().hasFinishTime();
            });
            JobAndTasks job = fx.job(id);
            assertThat(ClusterFixture.finishedOk(job)).isTrue();
            List<String> nodes = job.getTasksList().stream().map(Task::getNode).distinct().toList();
            assertThat(nodes).contains("agent-1").anyMatch(n -> n.startsWith("aws-eu-"));
            assertThat(reasons).anyMatch(r -> r.contains("bursting: aws-eu-"));

            List<CloudInstance> instances = fx.awaitAllInstancesTerminated(Duration.ofSeconds(60));
            assertThat(instances).isNotEmpty().hasSizeLessThanOrEqualTo(3).anySatisfy(i -> assertThat(i.hasJoinTime()).isTrue()).allSatisfy(i -> {
                assertThat(i.getSpot()).isTrue();
                // Billed per started second, at least a minute, at the price captured at launch.
                long billedSeconds = Math.max(60, (micros(i.getTerminateTime()) - micros(i.getLaunchTime()) + 999_999) / 1_000_000);
                assertThat(dev.spillway.api.Usd.dollars(i.getCost())).isCloseTo(billedSeconds * dev.spillway.api.Usd.dollars(i.getPricePerHour()) / 3600, org.assertj.core.data.Offset.offset(1e-6));
                if (i.hasJoinTime()) {
                    assertThat(i.getReason()).startsWith("idle for 4 s").endsWith("terminated once drained");
                } else {
                    // Its job found room elsewhere while it booted: given back before it joined.
                    assertThat(i.getReason()).as("%s never joined", i.getNode()).isEqualTo("no waiting task needs it any more");
                }
            });
            for (CloudInstance i : instances) assertThat(processesNamed(i.getNode())).as("agent of %s still running", i.getNode()).isEmpty();
        }
    }

    @Test
    void goingDownStopsBurstingAndEndsEveryInstanceRecordButOnlyForTheAdminToken() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("burst-down", 1, "20s", o -> {
            ClusterFixture.withLocalCloud(o, 2, "60s");
            o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "1s");
        })) {
            JobSpec spec = ClusterFixture.shellJob(6, 1000, "sleep 300").toBuilder()
                    .setTask(ClusterFixture.shellJob(6, 1000, "sleep 300").getTask().toBuilder().setSpotTolerant(true)).build();
            String id = fx.submit(spec);
            var pools = dev.spillway.api.v1.PoolServiceGrpc.newBlockingStub(fx.channel);
            var all = dev.spillway.api.v1.ListInstancesRequest.getDefaultInstance();
            await().atMost(Duration.ofSeconds(90)).until(() -> pools.listInstances(all).getInstancesList().stream()
                    .anyMatch(i -> i.getState() == dev.spillway.api.v1.InstanceState.INSTANCE_STATE_JOINED));

            // Without a credential, with an agent's node credential, or with a role that may not change pools, the broker refuses.
            var stop = dev.spillway.api.v1.StopBurstingRequest.getDefaultInstance();
            String nodeCredential = Files.readString(fx.cluster.dataDir().resolve("agents/agent-1/node-credential")).trim();
            String submitter = dev.spillway.api.v1.AccessServiceGrpc.newBlockingStub(fx.channel).createApiKey(
                    dev.spillway.api.v1.CreateApiKeyRequest.newBuilder().setTenant("default").setRole("submitter").build()).getSecret();
            for (var refusal : List.of(java.util.Map.entry("none", io.grpc.Status.Code.UNAUTHENTICATED),
                    java.util.Map.entry(nodeCredential, io.grpc.Status.Code.UNAUTHENTICATED),
                    java.util.Map.entry(submitter, io.grpc.Status.Code.PERMISSION_DENIED))) {
                io.grpc.ManagedChannel other = fx.cluster.channel(refusal.getKey().equals("none") ? null : refusal.getKey());
                try {
                    assertThat(org.assertj.core.api.Assertions.catchThrowableOfType(io.grpc.StatusRuntimeException.class,
                            () -> dev.spillway.api.v1.PoolServiceGrpc.newBlockingStub(other).stopBursting(stop)).getStatus().getCode())
                            .isEqualTo(refusal.getValue());
                } finally {
                    other.shutdownNow();
                }
            }
            assertThat(pools.listInstances(all).getInstancesList()).anyMatch(i -> i.getState() == dev.spillway.api.v1.InstanceState.INSTANCE_STATE_JOINED);

            // What a local setup does first when it goes down: every record ends, with its cost; no new launch follows.
            int live = (int) pools.listInstances(all).getInstancesList().stream().filter(i -> i.getState() != dev.spillway.api.v1.InstanceState.INSTANCE_STATE_TERMINATED
                    && i.getState() != dev.spillway.api.v1.InstanceState.INSTANCE_STATE_FAILED).count();
            assertThat(fx.cluster.stopBursting()).isEqualTo(live);
            List<CloudInstance> ended = pools.listInstances(all).getInstancesList();
            assertThat(ended).isNotEmpty().allSatisfy(i -> {
                assertThat(i.getState()).isIn(dev.spillway.api.v1.InstanceState.INSTANCE_STATE_TERMINATED, dev.spillway.api.v1.InstanceState.INSTANCE_STATE_FAILED);
                assertThat(i.hasTerminateTime()).isTrue();
            });
            assertThat(ended).filteredOn(CloudInstance::hasJoinTime).allSatisfy(i -> {
                assertThat(i.getReason()).startsWith("bursting stopped by apikey:");
                assertThat(dev.spillway.api.Usd.dollars(i.getCost())).isPositive();
            });
            await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> pools.listInstances(all).getInstancesCount() == ended.size());
            for (CloudInstance i : ended) assertThat(processesNamed(i.getNode())).as("agent of %s still running", i.getNode()).isEmpty();
            fx.jobs.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(id).build());
        }
    }

    private static long micros(Timestamp t) {
        return t.getSeconds() * 1_000_000 + t.getNanos() / 1000;
    }

    /** Live processes started with {@code --name node}. */
    private static List<Long> processesNamed(String node) throws Exception {
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.filter(p -> p.getFileName().toString().matches("\\d+")).filter(p -> {
                try {
                    return new String(Files.readAllBytes(p.resolve("cmdline"))).contains("--name\0" + node + "\0");
                } catch (Exception gone) {
                    return false;
                }
            }).map(p -> Long.parseLong(p.getFileName().toString())).toList();
        }
    }
}
