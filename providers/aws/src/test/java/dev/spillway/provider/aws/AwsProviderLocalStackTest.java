package dev.spillway.provider.aws;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.provider.spi.AgentBootstrap;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.Tags;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.localstack.LocalStackContainer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;

/**
 * The AWS provider against LocalStack's EC2 in a container: launch, idempotent relaunch, list by
 * cluster tag, terminate. Skipped, with the reason printed, where no Docker engine answers;
 * {@link AwsProviderTest} covers the same paths (and the faults) against the loopback EC2 server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AwsProviderLocalStackTest {

    private LocalStackContainer localstack;
    private AwsProvider aws;

    @BeforeAll
    void start() {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        if (!docker) {
            String reason = "no Docker engine answers here; AwsProviderTest ran the provider against the loopback EC2 server";
            System.out.println("SKIPPED " + getClass().getSimpleName() + ": " + reason);
            Assumptions.abort(reason);
        }
        localstack = new LocalStackContainer("localstack/localstack:4.4").withServices("ec2");
        localstack.start();
        var credentials = StaticCredentialsProvider.create(AwsBasicCredentials.create(localstack.getAccessKey(), localstack.getSecretKey()));
        String subnet;
        try (Ec2Client ec2 = Ec2Client.builder().endpointOverride(localstack.getEndpoint()).region(Region.of(localstack.getRegion()))
                .credentialsProvider(credentials).build()) {
            subnet = ec2.describeSubnets().subnets().get(0).subnetId();
        }
        aws = new AwsProvider(new AwsProvider.Settings(localstack.getRegion(), Optional.of(localstack.getEndpoint()), "ami-df5de72bdb3b",
                List.of(subnet), List.of(), Optional.empty(), List.of("t3.medium"), "aws-eu-central-1",
                dev.spillway.provider.spi.AgentDownload.plaintext("http://broker.example.com/agent/spillway-agent.jar", "0".repeat(64)), Duration.ofSeconds(10), Optional.of(credentials)));
    }

    @AfterAll
    void stop() {
        if (aws != null) aws.close();
        if (localstack != null) localstack.stop();
    }

    @Test
    void launchesOnceListsByClusterAndTerminates() throws Exception {
        String zone = aws.offerings().get(0).zone();
        LaunchRequest request = new LaunchRequest("ls-key-1", "t3.medium", localstack.getRegion(), zone, false, 0,
                Map.of(Tags.CLUSTER, "ls", Tags.POOL, "aws", Tags.REQUEST, "ls-key-1"),
                new AgentBootstrap("broker.example.com:7070", "join.localstack", "aws-ls-1", "aws", Map.of()));

        Instance first = aws.launch(request);
        Instance again = aws.launch(request);

        assertThat(again.id()).isEqualTo(first.id());
        assertThat(aws.list("ls")).extracting(Instance::id).containsExactly(first.id());
        aws.terminate(first.id());
        aws.terminate(first.id());
        assertThat(aws.list("ls")).allMatch(i -> i.state() == Instance.State.TERMINATED || i.state() == Instance.State.STOPPING);
    }
}
