package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.GetJobResponse;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.Task;
import dev.spillway.provider.aws.Ec2LoopbackServer;
import dev.spillway.provider.spi.BootScript;
import dev.spillway.provider.spi.Tags;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Bursting end to end with a pool of kind {@code aws}: the broker uses the AWS provider (the real
 * SDK) against a loopback EC2 endpoint. An instance "boots" the way its user data says: it
 * downloads the agent jar from the URL in the script (the broker serves it) and starts it with the
 * script's environment and arguments, sized like its instance type.
 */
class AwsBurstIT {

    private final Map<String, Process> booted = new ConcurrentHashMap<>();

    @Test
    void burstsIntoEc2AndTerminatesTheInstancesWhenIdle() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it").toAbsolutePath());
        try (Ec2LoopbackServer ec2 = new Ec2LoopbackServer("eu-central-1")
                .subnet("subnet-0a", "eu-central-1a")
                .subnet("subnet-0b", "eu-central-1b")
                .type("m5.large", 2, 8192, 0)
                .type("c5.xlarge", 4, 8192, 0)
                .spotPrice("m5.large", "eu-central-1a", 0.0401)
                .spotPrice("c5.xlarge", "eu-central-1b", 0.0702)) {
            Path instancesDir = Files.createTempDirectory(dir, "ec2-");
            ec2.onRun(i -> boot(ec2, i, instancesDir));
            ec2.onTerminate(i -> shutDown(i.id));
            try (ClusterFixture fx = new ClusterFixture("aws-burst", 1, "20s", o -> {
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
            })) {
                JobSpec spec = ClusterFixture.shellJob(8, 1000, "sleep 4").toBuilder()
                        .setTask(ClusterFixture.shellJob(8, 1000, "sleep 4").getTask().toBuilder().setSpotTolerant(true)).build();
                String id = fx.submit(spec);
                await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() -> fx.job(id).getJob().hasFinishTime());
                GetJobResponse job = fx.job(id);
                assertThat(ClusterFixture.finishedOk(job)).isTrue();
                assertThat(job.getTasksList().stream().map(Task::getNode).distinct().toList()).anyMatch(n -> n.startsWith("aws-eu-"));

                var pools = PoolServiceGrpc.newBlockingStub(fx.channel);
                await().atMost(Duration.ofSeconds(60)).until(() -> pools.listInstances(ListInstancesRequest.getDefaultInstance())
                        .getInstancesList().stream().allMatch(i -> i.getState().equals("TERMINATED")));
                List<CloudInstance> instances = pools.listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesList();
                assertThat(instances).isNotEmpty().hasSizeLessThanOrEqualTo(3).allSatisfy(i -> {
                    assertThat(i.hasJoinTime()).as("%s joined", i.getNode()).isTrue();
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
                await().atMost(Duration.ofSeconds(30)).until(() -> booted.values().stream().noneMatch(Process::isAlive));
            }
        } finally {
            for (Process p : booted.values()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** Does what the instance's user data says, on this machine. */
    private void boot(Ec2LoopbackServer ec2, Ec2LoopbackServer.Ec2Instance instance, Path instancesDir) {
        BootScript.Parsed script = BootScript.parse(instance.userDataText());
        Ec2LoopbackServer.Type type = ec2.type(instance.type);
        Thread boot = new Thread(() -> {
            try {
                Path home = Files.createDirectories(instancesDir.resolve(instance.id));
                Path jar = home.resolve("spillway-agent.jar");
                HttpResponse<Path> download = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(script.agentUrl())).build(),
                        HttpResponse.BodyHandlers.ofFile(jar));
                if (download.statusCode() != 200) throw new IOException("agent download: HTTP " + download.statusCode());
                List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx192m",
                        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar.toString()));
                cmd.addAll(script.agentArguments());
                cmd.addAll(List.of("--cpu", Integer.toString(type.vcpus()), "--memory", type.memoryMib() + "Mi",
                        "--work-dir", home.resolve("work").toString()));
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(home.resolve("agent.log").toFile());
                pb.environment().putAll(script.environment());
                booted.put(instance.id, pb.start());
                instance.state = "running";
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "boot-" + instance.id);
        boot.setDaemon(true);
        boot.start();
    }

    /** The instance goes away: its agent gets SIGTERM, as on a real shutdown. */
    private void shutDown(String instanceId) {
        Process p = booted.get(instanceId);
        if (p != null) p.destroy();
    }
}
