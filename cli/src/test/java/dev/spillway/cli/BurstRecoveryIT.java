package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The burst controller under failure: the broker killed (halted, as kill -9) at three points of a
 * launch and restarted on the same data; a capacity error; a spot interruption.
 */
class BurstRecoveryIT {

    private static Consumer<LocalCluster.Options> cloud(String extraKey, String extraValue) {
        return o -> {
            o.agentCpu = "1";
            ClusterFixture.withLocalCloud(o, 2, "3s");
            o.brokerProperties.put("spillway.pools.aws-eu.instance-types", "t3.medium,c5.large");
            o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "1s");
            if (extraKey != null) o.brokerProperties.put(extraKey, extraValue);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"burst.before-launch", "burst.during-launch", "burst.after-launch"})
    void aBrokerKilledDuringALaunchLeavesNoDuplicateNoOrphanAndNoLostTask(String failpoint) throws Exception {
        try (ClusterFixture fx = new ClusterFixture("kill-" + failpoint.replace('.', '-'), 1, "20s", cloud("spillway.failpoint", failpoint))) {
            String id = fx.submit(ClusterFixture.spotJob(4, "sleep 2; echo done $SPILLWAY_TASK_INDEX"));
            await().atMost(Duration.ofSeconds(60)).until(() -> !fx.cluster.broker().isAlive());
            assertThat(fx.cluster.broker().exitValue()).isEqualTo(137);

            fx.cluster.options().brokerProperties.remove("spillway.failpoint");
            fx.cluster.startBroker();

            JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(120));
            assertThat(ClusterFixture.finishedOk(job)).isTrue();
            assertThat(job.getTasksList()).allSatisfy(t -> assertThat(t.getState()).isEqualTo(dev.spillway.api.v1.TaskState.TASK_STATE_SUCCEEDED));

            var pools = PoolServiceGrpc.newBlockingStub(fx.channel);
            await().atMost(Duration.ofSeconds(90)).until(() -> pools.listInstances(ListInstancesRequest.getDefaultInstance())
                    .getInstancesList().stream().allMatch(i -> i.getState() == dev.spillway.api.v1.InstanceState.INSTANCE_STATE_TERMINATED || i.getState() == dev.spillway.api.v1.InstanceState.INSTANCE_STATE_FAILED));
            List<CloudInstance> records = pools.listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesList();
            List<Properties> launched = providerInstances(fx.cluster.dataDir().resolve("local-cloud/aws-eu"));
            // One cloud instance per launch request at most: no duplicate from the repeated launch.
            assertThat(launched.stream().map(p -> p.getProperty("tag.spillway:request")).distinct().count()).isEqualTo(launched.size());
            assertThat(launched).allSatisfy(p -> assertThat(p.getProperty("state")).isEqualTo("TERMINATED"));
            assertThat(records.stream().filter(r -> !r.getProviderInstanceId().isEmpty()).count()).isLessThanOrEqualTo(launched.size());
            // An adopted instance keeps the provider's launch time (its join deadline and its cost count from there).
            for (CloudInstance r : records) {
                launched.stream().filter(p -> r.getUid().equals(p.getProperty("tag.spillway:request"))).findFirst().ifPresent(p -> {
                    java.time.Instant providerTime = java.time.Instant.parse(p.getProperty("launched")).truncatedTo(java.time.temporal.ChronoUnit.MICROS);
                    assertThat(java.time.Instant.ofEpochSecond(r.getLaunchTime().getSeconds(), r.getLaunchTime().getNanos()))
                            .as("launch time of %s", r.getNode()).isEqualTo(providerTime);
                });
            }
            for (Properties p : launched) {
                long pid = Long.parseLong(p.getProperty("pid", "0"));
                if (pid > 0) assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("orphan agent %d", pid).isFalse();
            }
        }
    }

    @Test
    void aCapacityErrorFallsBackToTheNextOfferingWithinACycle() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("capacity", 1, "20s",
                cloud("spillway.pools.aws-eu.fault-no-capacity", "t3.medium@eu-central-1a:spot"))) {
            String id = fx.submit(ClusterFixture.spotJob(3, "sleep 2"));
            JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(90));
            assertThat(ClusterFixture.finishedOk(job)).isTrue();
            List<CloudInstance> records = PoolServiceGrpc.newBlockingStub(fx.channel)
                    .listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesList();
            assertThat(records).anySatisfy(r -> {
                assertThat(r.getInstanceType()).isEqualTo("t3.medium");
                assertThat(r.getState()).isEqualTo(dev.spillway.api.v1.InstanceState.INSTANCE_STATE_FAILED);
                assertThat(r.getReason()).contains("INSUFFICIENT_CAPACITY");
            });
            CloudInstance failed = records.stream().filter(r -> r.getState() == dev.spillway.api.v1.InstanceState.INSTANCE_STATE_FAILED).findFirst().orElseThrow();
            assertThat(records).anySatisfy(r -> {
                assertThat(r.getInstanceType()).isNotEqualTo("t3.medium");
                assertThat(r.hasJoinTime()).isTrue();
                // The fallback was planned on the next tick (interval 500 ms), not after a backoff.
                assertThat(r.getRequestTime().getSeconds() - failed.getRequestTime().getSeconds()).isLessThanOrEqualTo(3);
            });
        }
    }

    @Test
    void aSpotInterruptionDrainsTheNodeAndItsTasksFinishElsewhere() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("spot", 1, "20s", cloud(null, null))) {
            // Attempt 1 of every task runs long, so the interruption finds them running; retries are short.
            String id = fx.submit(ClusterFixture.spotJob(3, "if [ \"$SPILLWAY_ATTEMPT\" = 1 ]; then sleep 60; else sleep 1; fi"));
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getTasksList().stream()
                    .anyMatch(t -> t.getNode().startsWith("aws-eu-") && t.getState() == dev.spillway.api.v1.TaskState.TASK_STATE_RUNNING));
            Task victimTask = fx.job(id).getTasksList().stream().filter(t -> t.getNode().startsWith("aws-eu-")).findFirst().orElseThrow();
            String node = victimTask.getNode();
            // The cloud's notice: the instance's agent gets SIGTERM (it hands its tasks back) and the machine goes away.
            Properties instance = providerInstances(fx.cluster.dataDir().resolve("local-cloud/aws-eu")).stream()
                    .filter(p -> node.equals(p.getProperty("node", nodeOf(p)))).findFirst().orElseThrow();
            ProcessHandle.of(Long.parseLong(instance.getProperty("pid"))).orElseThrow().destroy();

            await().atMost(Duration.ofSeconds(60)).until(() -> {
                Task t = fx.job(id).getTasks(victimTask.getIndex());
                return t.getAttempt() >= 2 && !t.getNode().equals(node);
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> PoolServiceGrpc.newBlockingStub(fx.channel)
                    .listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesList().stream()
                    .anyMatch(i -> i.getNode().equals(node) && i.getState() == dev.spillway.api.v1.InstanceState.INSTANCE_STATE_TERMINATED));
            fx.jobs.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(id).build());
        }
    }

    private static String nodeOf(Properties p) {
        return p.getProperty("tag.spillway:node", "");
    }

    /** The local cloud's own records of the instances it launched. */
    private static List<Properties> providerInstances(Path stateDir) throws Exception {
        if (!Files.exists(stateDir)) return List.of();
        try (Stream<Path> files = Files.list(stateDir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".instance")).map(f -> {
                Properties p = new Properties();
                try (var in = Files.newBufferedReader(f)) {
                    p.load(in);
                    Path userData = stateDir.resolve(f.getFileName().toString().replace(".instance", ".userdata"));
                    if (Files.exists(userData)) {
                        Properties u = new Properties();
                        try (var ud = Files.newBufferedReader(userData)) {
                            u.load(ud);
                        }
                        p.setProperty("node", u.getProperty("node"));
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                return p;
            }).toList();
        }
    }
}
