package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.Task;
import dev.spillway.provider.aws.Ec2LoopbackServer;
import dev.spillway.provider.spi.Tags;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Bursting end to end with a pool of kind {@code aws}: the broker uses the AWS provider (the real
 * SDK) against a loopback EC2 endpoint. An instance "boots" the way its user data says: it
 * downloads the agent jar from the URL in the script (the broker serves it) and starts it with the
 * script's environment and arguments, sized like its instance type.
 */
class AwsBurstIT {

    private static Ec2LoopbackServer ec2(BootedInstances machines) throws java.io.IOException {
        Ec2LoopbackServer ec2 = new Ec2LoopbackServer("eu-central-1")
                .subnet("subnet-0a", "eu-central-1a")
                .subnet("subnet-0b", "eu-central-1b")
                .type("m5.large", 2, 8192, 0)
                .type("c5.xlarge", 4, 8192, 0)
                .spotPrice("m5.large", "eu-central-1a", 0.0401)
                .spotPrice("c5.xlarge", "eu-central-1b", 0.0702);
        // An instance terminated while it boots stays terminated, as in EC2.
        ec2.onRun(i -> machines.boot(i.id, i.userDataText(), ec2.type(i.type).vcpus(), ec2.type(i.type).memoryMib(), () -> {
            synchronized (i) {
                if (i.state.equals("pending")) i.state = "running";
            }
        }));
        ec2.onTerminate(i -> machines.shutDown(i.id));
        return ec2;
    }

    private static void awsPool(LocalCluster.Options o, Ec2LoopbackServer ec2) {
        o.brokerProperties.put("spillway.burst-interval", "500ms");
        o.brokerProperties.put("spillway.pools.onprem.kind", "on-prem");
        o.brokerProperties.put("spillway.pools.aws-eu.kind", "aws");
        o.brokerProperties.put("spillway.pools.aws-eu.region", "eu-central-1");
        o.brokerProperties.put("spillway.pools.aws-eu.endpoint", ec2.endpoint().toString());
        o.brokerProperties.put("spillway.pools.aws-eu.image-id", "ami-0123456789abcdef0");
        o.brokerProperties.put("spillway.pools.aws-eu.subnets", "subnet-0a,subnet-0b");
        o.brokerProperties.put("spillway.pools.aws-eu.security-groups", "sg-0spillway");
        o.brokerProperties.put("spillway.pools.aws-eu.instance-types", "m5.large,c5.xlarge");
        o.brokerProperties.put("spillway.pools.aws-eu.max-nodes", "3");
        o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "2s");
        o.brokerProperties.put("spillway.pools.aws-eu.scale-down-after", "4s");
        // The SDK's default credential chain reads these system properties.
        o.brokerProperties.put("aws.accessKeyId", "AKIDSPILLWAYTEST");
        o.brokerProperties.put("aws.secretAccessKey", "not-a-real-secret");
    }

    @Test
    void burstsIntoEc2AndTerminatesTheInstancesWhenIdle() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it").toAbsolutePath());
        try (BootedInstances machines = new BootedInstances(Files.createTempDirectory(dir, "ec2-"));
             Ec2LoopbackServer ec2 = ec2(machines)) {
            try (ClusterFixture fx = new ClusterFixture("aws-burst", 1, "20s", o -> awsPool(o, ec2))) {
                // Offerings as EC2 and the catalog give them: both types on demand in both zones, spot where EC2 has a price.
                await().atMost(Duration.ofSeconds(30)).until(() -> PoolServiceGrpc.newBlockingStub(fx.channel)
                        .getPool(dev.spillway.api.v1.GetPoolRequest.newBuilder().setName("aws-eu").build()).getCloud().getOfferings() == 6);
                var cloud = PoolServiceGrpc.newBlockingStub(fx.channel)
                        .getPool(dev.spillway.api.v1.GetPoolRequest.newBuilder().setName("aws-eu").build()).getCloud();
                assertThat(cloud.getStatus()).isEqualTo("ok");
                assertThat(dev.spillway.api.Usd.dollars(cloud.getCheapestPricePerHour())).isEqualTo(0.0401);
                assertThat(cloud.getMaxNodes()).isEqualTo(3);
                String id = fx.submit(ClusterFixture.spotJob(8, "sleep 4"));
                await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() -> fx.job(id).getJob().hasFinishTime());
                JobAndTasks job = fx.job(id);
                assertThat(ClusterFixture.finishedOk(job)).isTrue();
                assertThat(job.getTasksList().stream().map(Task::getNode).distinct().toList()).anyMatch(n -> n.startsWith("aws-eu-"));

                List<CloudInstance> instances = fx.awaitAllInstancesTerminated(Duration.ofSeconds(60));
                assertThat(instances).isNotEmpty().hasSizeLessThanOrEqualTo(3).anySatisfy(i -> assertThat(i.hasJoinTime()).isTrue()).allSatisfy(i -> {
                    // An instance whose job found room elsewhere while it booted is given back before it joins.
                    if (!i.hasJoinTime()) assertThat(i.getReason()).as("%s never joined", i.getNode()).isEqualTo("no waiting task needs it any more");
                    assertThat(i.getSpot()).isTrue();
                });
                // What EC2 saw: one RunInstances per instance (client token = request tag), all terminated now.
                assertThat(ec2.instances()).hasSize(instances.size()).allSatisfy(i -> {
                    assertThat(i.state).isEqualTo("terminated");
                    assertThat(i.tags).containsEntry(Tags.CLUSTER, "spillway").containsEntry(Tags.POOL, "aws-eu");
                    assertThat(i.clientToken).isEqualTo(i.tags.get(Tags.REQUEST));
                    assertThat(i.spot).isTrue();
                });
                assertThat(ec2.requests("RunInstances")).allSatisfy(r -> assertThat(r.get("SecurityGroupId.1")).isEqualTo("sg-0spillway"));
                await().atMost(Duration.ofSeconds(30)).until(() -> !machines.anyRunning());
            }
        }
    }

    @Test
    void aSpotInterruptionNoticeDrainsTheInstanceAndItsTasksFinishElsewhere() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it").toAbsolutePath());
        try (BootedInstances machines = new BootedInstances(Files.createTempDirectory(dir, "ec2-"));
             Ec2LoopbackServer ec2 = ec2(machines);
             ClusterFixture fx = new ClusterFixture("aws-spot", 1, "20s", o -> awsPool(o, ec2))) {
            // Attempt 1 of every task runs long, so the notice finds them running; retries are short.
            String id = fx.submit(ClusterFixture.spotJob(4, "if [ \"$SPILLWAY_ATTEMPT\" = 1 ]; then sleep 120; else sleep 1; fi"));
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getTasksList().stream()
                    .anyMatch(t -> t.getNode().startsWith("aws-eu-") && t.getState() == dev.spillway.api.v1.TaskState.TASK_STATE_RUNNING));
            Task victim = fx.job(id).getTasksList().stream()
                    .filter(t -> t.getNode().startsWith("aws-eu-") && t.getState() == dev.spillway.api.v1.TaskState.TASK_STATE_RUNNING)
                    .findFirst().orElseThrow();
            String instance = machines.instanceOf(victim.getNode());

            // Two minutes' notice on EC2; here 12 s: the agent finishes what it can for 2 s, hands back the rest and stops.
            machines.announceInterruption(instance, java.time.Instant.now().plusSeconds(12));

            Process agent = machines.agent(instance);
            assertThat(agent.waitFor(40, java.util.concurrent.TimeUnit.SECONDS)).as("agent stopped on the notice").isTrue();
            assertThat(agent.exitValue()).isZero();
            ec2.reclaim(instance); // and then the cloud takes the machine
            await().atMost(Duration.ofSeconds(60)).until(() -> {
                Task t = fx.job(id).getTasks(victim.getIndex());
                return t.getAttempt() >= 2 && !t.getNode().equals(victim.getNode());
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> PoolServiceGrpc.newBlockingStub(fx.channel)
                    .listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesList().stream()
                    .anyMatch(i -> i.getNode().equals(victim.getNode()) && i.getState() == dev.spillway.api.v1.InstanceState.INSTANCE_STATE_TERMINATED));
            fx.jobs.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(id).build());
        }
    }

    @Test
    void aMissingPermissionIsExplainedAndThePoolRestsInsteadOfRetrying() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it").toAbsolutePath());
        try (BootedInstances machines = new BootedInstances(Files.createTempDirectory(dir, "ec2-"));
             Ec2LoopbackServer ec2 = ec2(machines);
             ClusterFixture fx = new ClusterFixture("aws-denied", 1, "20s", o -> awsPool(o, ec2))) {
            ec2.unauthorized("RunInstances");
            String id = fx.submit(ClusterFixture.spotJob(6, "sleep 60"));

            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getJob().getPendingReason().contains("ec2:RunInstances"));
            var pool = PoolServiceGrpc.newBlockingStub(fx.channel)
                    .getPool(dev.spillway.api.v1.GetPoolRequest.newBuilder().setName("aws-eu").build());
            assertThat(pool.getCloud().getStatus()).startsWith("resting until").contains("ec2:RunInstances");
            assertThat(fx.job(id).getJob().getPendingReason()).contains("pool aws-eu rests until").contains("iam-policy.json");
            int attempts = ec2.requests("RunInstances").size();
            // Over many burst ticks (500 ms each), no new attempt: the pool rests instead of hammering the API.
            await().during(Duration.ofSeconds(4)).atMost(Duration.ofSeconds(6))
                    .until(() -> ec2.requests("RunInstances").size() == attempts && fx.job(id).getJob().getPendingReason().contains("rests until"));
            assertThat(ec2.instances()).isEmpty();
            fx.jobs.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(id).build());
        }
    }

    @Test
    void instancesThatNeverJoinHideTheirOfferingsThenRestThePoolSayingWhereTheyMustReach() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it").toAbsolutePath());
        try (BootedInstances machines = new BootedInstances(Files.createTempDirectory(dir, "ec2-"));
             Ec2LoopbackServer ec2 = ec2(machines);
             ClusterFixture fx = new ClusterFixture("aws-never-join", 1, "20s", o -> {
                 awsPool(o, ec2);
                 o.brokerProperties.put("spillway.pools.aws-eu.join-timeout", "3s");
             })) {
            // A wrong network setting: the machines start, but their agents never reach the broker.
            ec2.onRun(i -> i.state = "running");
            String id = fx.submit(ClusterFixture.spotJob(6, "sleep 60"));

            await().atMost(Duration.ofSeconds(90)).until(() -> fx.job(id).getJob().getPendingReason().contains("never joined"));
            String reason = fx.job(id).getJob().getPendingReason();
            assertThat(reason).contains("pool aws-eu rests until")
                    .contains("3 instances launched in the last").contains("never joined: check that instances can reach " + fx.cluster.brokerAddress());
            var pool = PoolServiceGrpc.newBlockingStub(fx.channel)
                    .getPool(dev.spillway.api.v1.GetPoolRequest.newBuilder().setName("aws-eu").build());
            assertThat(pool.getCloud().getStatus()).startsWith("resting until").contains("never joined");
            // Each instance that never joined was terminated and recorded FAILED; nothing was relaunched in its place at once.
            int runs = ec2.requests("RunInstances").size();
            List<CloudInstance> failed = PoolServiceGrpc.newBlockingStub(fx.channel).listInstances(ListInstancesRequest.getDefaultInstance())
                    .getInstancesList();
            assertThat(runs).isGreaterThanOrEqualTo(3);
            assertThat(failed).hasSize(runs).allSatisfy(i -> {
                assertThat(i.getState()).isEqualTo(dev.spillway.api.v1.InstanceState.INSTANCE_STATE_FAILED);
                assertThat(i.getReason()).startsWith("never joined within 3 s");
                assertThat(i.hasTerminateTime()).isTrue();
            });
            // Resting: no further launch over many burst ticks, and the machines were given back.
            await().during(Duration.ofSeconds(4)).atMost(Duration.ofSeconds(6)).until(() -> ec2.requests("RunInstances").size() == runs);
            assertThat(ec2.instances()).allSatisfy(i -> assertThat(i.state).isEqualTo("terminated"));
            fx.jobs.cancelJob(dev.spillway.api.v1.CancelJobRequest.newBuilder().setName(id).build());
        }
    }

    @Test
    void orphansAreTerminatedWhateverTheirPoolTagAndAnUnknownTypeIsNamedWhileTheOthersServe() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it").toAbsolutePath());
        try (BootedInstances machines = new BootedInstances(Files.createTempDirectory(dir, "ec2-"));
             Ec2LoopbackServer ec2 = ec2(machines)) {
            var renamed = ec2.plant("m5.large", "subnet-0a", java.util.Map.of(Tags.CLUSTER, "spillway", Tags.POOL, "aws-old", Tags.REQUEST, "gone"));
            var untagged = ec2.plant("m5.large", "subnet-0b", java.util.Map.of(Tags.CLUSTER, "spillway"));
            var foreign = ec2.plant("m5.large", "subnet-0b", java.util.Map.of(Tags.CLUSTER, "someone-else", Tags.POOL, "aws-eu"));
            try (ClusterFixture fx = new ClusterFixture("aws-orphans", 1, "20s", o -> {
                awsPool(o, ec2);
                o.brokerProperties.put("spillway.pools.aws-eu.instance-types", "m5.large,c5.xlarge,m5.nosuch");
            })) {
                await().atMost(Duration.ofSeconds(30)).until(() -> renamed.state.equals("terminated") && untagged.state.equals("terminated"));
                assertThat(foreign.state).as("another cluster's instance is not ours to terminate").isEqualTo("running");

                var cloud = PoolServiceGrpc.newBlockingStub(fx.channel)
                        .getPool(dev.spillway.api.v1.GetPoolRequest.newBuilder().setName("aws-eu").build()).getCloud();
                assertThat(cloud.getOfferings()).isEqualTo(6);
                assertThat(cloud.getStatus()).startsWith("ok").contains("m5.nosuch");
                String id = fx.submit(ClusterFixture.spotJob(4, "sleep 2"));
                await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() -> fx.job(id).getJob().hasFinishTime());
                assertThat(ClusterFixture.finishedOk(fx.job(id))).isTrue();
            }
        }
    }
}
