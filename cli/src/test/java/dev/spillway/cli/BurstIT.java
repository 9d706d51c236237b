package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.GetJobResponse;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Task;
import com.google.protobuf.Timestamp;
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
                GetJobResponse j = fx.job(id);
                if (!j.getJob().getPendingReason().isEmpty()) reasons.add(j.getJob().getPendingReason());
                return j.getJob().hasFinishTime();
            });
            GetJobResponse job = fx.job(id);
            assertThat(ClusterFixture.finishedOk(job)).isTrue();
            List<String> nodes = job.getTasksList().stream().map(Task::getNode).distinct().toList();
            assertThat(nodes).contains("agent-1").anyMatch(n -> n.startsWith("aws-eu-"));
            assertThat(reasons).anyMatch(r -> r.contains("bursting: aws-eu-"));

            List<CloudInstance> instances = fx.awaitAllInstancesTerminated(Duration.ofSeconds(60));
            assertThat(instances).isNotEmpty().hasSizeLessThanOrEqualTo(3).allSatisfy(i -> {
                assertThat(i.hasJoinTime()).as("%s joined", i.getNode()).isTrue();
                assertThat(i.getSpot()).isTrue();
                double hours = (micros(i.getTerminateTime()) - micros(i.getLaunchTime())) / 3.6e9;
                assertThat(i.getCostUsd()).isCloseTo(hours * i.getPriceUsdPerHour(), org.assertj.core.data.Offset.offset(1e-9));
                assertThat(i.getReason()).contains("idle");
            });
            for (CloudInstance i : instances) assertThat(processesNamed(i.getNode())).as("agent of %s still running", i.getNode()).isEmpty();
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
