package dev.spillway.provider.aws;

import dev.spillway.provider.spi.CapacityProvider;
import dev.spillway.provider.spi.CapacityProviderContractTest;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.InstanceOffering;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * The AWS provider passes the provider contract through the real SDK against the loopback EC2
 * endpoint; its instances stay {@code pending} until the contract boots them.
 */
class AwsProviderContractTest extends CapacityProviderContractTest {

    private Ec2LoopbackServer ec2;
    private AwsProvider aws;

    @Override
    protected CapacityProvider newProvider() throws Exception {
        ec2 = new Ec2LoopbackServer("eu-central-1")
                .subnet("subnet-a", "eu-central-1a")
                .subnet("subnet-b", "eu-central-1b")
                .type("m5.large", 2, 8192, 0)
                .type("c5.xlarge", 4, 8192, 0)
                .spotPrice("m5.large", "eu-central-1a", 0.0401);
        ec2.onRun(i -> { }); // pending until booted
        ec2.pageSize(2);
        aws = new AwsProvider(new AwsProvider.Settings("eu-central-1", Optional.of(ec2.endpoint()), "ami-0123456789abcdef0",
                List.of("subnet-a", "subnet-b"), List.of("sg-1"), Optional.empty(), List.of("m5.large", "c5.xlarge"), "aws-eu-central-1",
                dev.spillway.provider.spi.AgentDownload.plaintext("http://broker.example.com:7070/agent/spillway-agent.jar", "0".repeat(64)), Duration.ofSeconds(1),
                Optional.of(StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDEXAMPLE", "secret-example")))));
        return aws;
    }

    @Override
    protected void closeProvider() {
        aws.close();
        ec2.close();
    }

    @Override
    protected int listPageSize() {
        return 2;
    }

    @Override
    protected void exhaustCapacity(InstanceOffering offering) {
        ec2.noCapacity(offering.instanceType(), offering.spot());
    }

    @Override
    protected boolean exceedQuotaOnNextLaunch() {
        ec2.vcpuLimitExceededNext(1);
        return true;
    }

    @Override
    protected boolean loseNextLaunchResponse() {
        ec2.loseNextRunInstancesResponses(1);
        return true;
    }

    @Override
    protected void boot(Instance instance) {
        ec2.instance(instance.id()).state = "running";
    }
}
