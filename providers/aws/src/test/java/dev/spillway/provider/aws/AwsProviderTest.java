package dev.spillway.provider.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import dev.spillway.provider.spi.AgentBootstrap;
import dev.spillway.provider.spi.BootScript;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.InstanceShape;
import dev.spillway.provider.spi.Tags;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** The AWS provider through the real SDK against a loopback EC2 endpoint. */
class AwsProviderTest {

    private Ec2LoopbackServer ec2;
    private AwsProvider aws;

    @BeforeEach
    void start() throws Exception {
        ec2 = new Ec2LoopbackServer("eu-central-1")
                .subnet("subnet-a", "eu-central-1a")
                .subnet("subnet-b", "eu-central-1b")
                .type("m5.large", 2, 8192, 0)
                .type("c5.xlarge", 4, 8192, 0)
                .type("g4dn.xlarge", 4, 16384, 1)
                .spotPrice("m5.large", "eu-central-1a", 0.0401)
                .spotPrice("m5.large", "eu-central-1b", 0.0433);
        aws = provider(Optional.of("spillway-agent"));
    }

    private AwsProvider provider(Optional<String> profile) {
        return provider(profile, List.of("m5.large", "c5.xlarge", "g4dn.xlarge"));
    }

    private AwsProvider provider(Optional<String> profile, List<String> instanceTypes) {
        return new AwsProvider(new AwsProvider.Settings("eu-central-1", Optional.of(ec2.endpoint()), "ami-0123456789abcdef0",
                List.of("subnet-a", "subnet-b"), List.of("sg-1", "sg-2"), profile, instanceTypes,
                "aws-eu-central-1", dev.spillway.provider.spi.AgentDownload.plaintext("http://broker.example.com:7070/agent/spillway-agent.jar", "0".repeat(64)), Duration.ofSeconds(1),
                Optional.of(StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDEXAMPLE", "secret-example")))));
    }

    @AfterEach
    void stop() {
        aws.close();
        ec2.close();
    }

    @Test
    void offeringsTakeShapesFromEc2OnDemandPricesFromTheCatalogAndSpotPricesLive() throws Exception {
        List<InstanceOffering> offerings = aws.offerings();

        assertThat(offerings).contains(
                new InstanceOffering("m5.large", "eu-central-1", "eu-central-1a", new InstanceShape(2000, 8192, 0), false, 0.1150, true),
                new InstanceOffering("m5.large", "eu-central-1", "eu-central-1b", new InstanceShape(2000, 8192, 0), false, 0.1150, true),
                new InstanceOffering("m5.large", "eu-central-1", "eu-central-1a", new InstanceShape(2000, 8192, 0), true, 0.0401, true),
                new InstanceOffering("m5.large", "eu-central-1", "eu-central-1b", new InstanceShape(2000, 8192, 0), true, 0.0433, true),
                new InstanceOffering("g4dn.xlarge", "eu-central-1", "eu-central-1a", new InstanceShape(4000, 16384, 1), false, 0.6580, true));
        assertThat(aws.unusableInstanceTypes()).isEmpty();
        // No live spot price for c5.xlarge: only on-demand.
        assertThat(offerings).filteredOn(o -> o.instanceType().equals("c5.xlarge")).allMatch(o -> !o.spot()).hasSize(2);
        var spot = ec2.requests("DescribeSpotPriceHistory").get(0);
        assertThat(spot.get("ProductDescription.1")).isEqualTo("Linux/UNIX");
        assertThat(spot.get("StartTime")).isNotNull();
        assertThat(ec2.requests()).allSatisfy(r -> assertThat(r.authorization()).startsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    }

    @Test
    void anInstanceTypeEc2DoesNotKnowIsLeftOutAndNamedWhileTheOthersAreOffered() throws Exception {
        ec2.type("m6i.large", 2, 8192, 0).spotPrice("m6i.large", "eu-central-1a", 0.0419);
        aws.close();
        aws = provider(Optional.empty(), List.of("m6i.large", "m6i.nosuch"));

        List<InstanceOffering> offerings = aws.offerings();

        assertThat(offerings).extracting(InstanceOffering::instanceType, InstanceOffering::zone, InstanceOffering::spot)
                .containsExactlyInAnyOrder(tuple("m6i.large", "eu-central-1a", false), tuple("m6i.large", "eu-central-1b", false),
                        tuple("m6i.large", "eu-central-1a", true));
        assertThat(aws.unusableInstanceTypes()).containsOnlyKeys("m6i.nosuch")
                .hasEntrySatisfying("m6i.nosuch", why -> assertThat(why).contains("InvalidInstanceType").contains("eu-central-1"));
        // EC2 refuses the request naming both as a whole (400 InvalidInstanceType); then each type is asked alone.
        var describes = ec2.requests("DescribeInstanceTypes");
        assertThat(describes).extracting(r -> r.get("InstanceType.1") + (r.get("InstanceType.2") == null ? "" : "," + r.get("InstanceType.2")))
                .containsExactly("m6i.large,m6i.nosuch", "m6i.large", "m6i.nosuch");
        assertThat(ec2.requests("DescribeSpotPriceHistory")).singleElement()
                .satisfies(r -> assertThat(r.params()).containsEntry("InstanceType.1", "m6i.large").doesNotContainKey("InstanceType.2"));
    }

    @Test
    void aTypeWithNeitherACatalogPriceNorASpotPriceIsNamedToo() throws Exception {
        ec2.type("x9.unpriced", 2, 4096, 0);
        aws.close();
        aws = provider(Optional.empty(), List.of("m5.large", "x9.unpriced"));

        assertThat(aws.offerings()).isNotEmpty().allMatch(o -> o.instanceType().equals("m5.large"));
        assertThat(aws.unusableInstanceTypes()).containsOnlyKeys("x9.unpriced")
                .hasEntrySatisfying("x9.unpriced", why -> assertThat(why).contains("no price").contains("aws-eu-central-1"));
        assertThat(ec2.requests("DescribeInstanceTypes")).hasSize(1);
    }

    @Test
    void launchLooksForItsRequestThenRunsOneInstanceWithTokenTagsUserDataAndSpotOptions() throws Exception {
        Instance i = aws.launch(request("5f0c1f9e-0000-4000-8000-000000000001", "m5.large", "eu-central-1b", true));

        assertThat(i.state()).isEqualTo(Instance.State.RUNNING);
        assertThat(i.zone()).isEqualTo("eu-central-1b");
        assertThat(i.spot()).isTrue();
        assertThat(i.tags()).containsEntry(Tags.CLUSTER, "c1").containsEntry(Tags.POOL, "aws-eu")
                .containsEntry(Tags.REQUEST, "5f0c1f9e-0000-4000-8000-000000000001");

        List<String> actions = ec2.requests().stream().map(Ec2LoopbackServer.Request::action).toList();
        assertThat(actions).containsSubsequence("DescribeInstances", "RunInstances");
        var lookup = ec2.requests("DescribeInstances").get(0);
        assertThat(lookup.params()).containsEntry("Filter.1.Name", "tag:" + Tags.REQUEST)
                .containsEntry("Filter.1.Value.1", "5f0c1f9e-0000-4000-8000-000000000001");

        var run = ec2.requests("RunInstances").get(0);
        assertThat(run.params())
                .containsEntry("ClientToken", "5f0c1f9e-0000-4000-8000-000000000001")
                .containsEntry("ImageId", "ami-0123456789abcdef0")
                .containsEntry("InstanceType", "m5.large")
                .containsEntry("MinCount", "1")
                .containsEntry("MaxCount", "1")
                .containsEntry("SubnetId", "subnet-b")
                .containsEntry("SecurityGroupId.1", "sg-1")
                .containsEntry("SecurityGroupId.2", "sg-2")
                .containsEntry("IamInstanceProfile.Name", "spillway-agent")
                .containsEntry("MetadataOptions.HttpTokens", "required")
                .containsEntry("InstanceMarketOptions.MarketType", "spot")
                .containsEntry("InstanceMarketOptions.SpotOptions.MaxPrice", "0.065")
                .containsEntry("InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time")
                .containsEntry("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior", "terminate")
                .containsEntry("TagSpecification.1.ResourceType", "instance")
                .containsEntry("TagSpecification.2.ResourceType", "volume");
        assertThat(List.of(run.get("TagSpecification.1.Tag.1.Key"), run.get("TagSpecification.1.Tag.2.Key"), run.get("TagSpecification.1.Tag.3.Key")))
                .containsExactlyInAnyOrder(Tags.CLUSTER, Tags.POOL, Tags.REQUEST);

        BootScript.Parsed boot = BootScript.parse(ec2.instance(i.id()).userDataText());
        assertThat(boot.environment()).containsEntry("SPILLWAY_BROKER", "broker.example.com:7070")
                .containsEntry("SPILLWAY_JOIN_TOKEN", "join.s3cr3t-token");
        assertThat(boot.agentArguments()).containsSubsequence("--name", "aws-eu-5f0c1f9e").containsSubsequence("--pool", "aws-eu")
                .containsSubsequence("--label", "spillway.dev/instance-type=m5.large").containsSubsequence("--spot-watch", "aws");
        assertThat(boot.agentUrl()).isEqualTo("http://broker.example.com:7070/agent/spillway-agent.jar");
        assertThat(boot.agentSha256()).isEqualTo("0".repeat(64));
    }

    @Test
    void aSpotMaxPriceKeepsEc2sSixPlacesRoundedUpAndATinyOneNeverBecomesZero() throws Exception {
        Map<String, Double> caps = new java.util.LinkedHashMap<>();
        caps.put("tiny", 0.00041);
        caps.put("tinier", 0.0000004);
        caps.put("long", 0.12345671);
        caps.put("computed", 0.0433 * 1.5);
        for (var cap : caps.entrySet()) {
            aws.launch(new LaunchRequest(cap.getKey(), "m5.large", "eu-central-1", "eu-central-1a", true, cap.getValue(),
                    Map.of(Tags.CLUSTER, "c1", Tags.POOL, "aws-eu", Tags.REQUEST, cap.getKey()), bootstrap(cap.getKey())));
        }

        assertThat(ec2.requests("RunInstances")).extracting(r -> r.get("ClientToken") + "=" + r.get("InstanceMarketOptions.SpotOptions.MaxPrice"))
                .containsExactly("tiny=0.00041", "tinier=0.000001", "long=0.123457", "computed=0.06495");
    }

    @Test
    void aSpotLaunchWithoutACapLeavesEc2sDefaultMaxPrice() throws Exception {
        aws.launch(new LaunchRequest("uncapped", "m5.large", "eu-central-1", "eu-central-1a", true, 0,
                Map.of(Tags.CLUSTER, "c1", Tags.POOL, "aws-eu", Tags.REQUEST, "uncapped"), bootstrap("uncapped")));

        assertThat(ec2.requests("RunInstances").get(0).params()).containsEntry("InstanceMarketOptions.MarketType", "spot")
                .doesNotContainKey("InstanceMarketOptions.SpotOptions.MaxPrice");
    }

    @Test
    void onDemandLaunchesCarryNoMarketOptionsAndAnArnProfileIsPassedAsArn() throws Exception {
        aws.close();
        aws = provider(Optional.of("arn:aws:iam::123456789012:instance-profile/spillway-agent"));
        aws.launch(request("k-on-demand", "c5.xlarge", "eu-central-1a", false));

        var run = ec2.requests("RunInstances").get(0);
        assertThat(run.params()).doesNotContainKey("InstanceMarketOptions.MarketType")
                .containsEntry("IamInstanceProfile.Arn", "arn:aws:iam::123456789012:instance-profile/spillway-agent")
                .containsEntry("SubnetId", "subnet-a");
    }

    @Test
    void aRetriedLaunchWithTheSameKeyLeavesOneInstance() throws Exception {
        Instance first = aws.launch(request("same-key", "m5.large", "eu-central-1a", false));
        Instance second = aws.launch(request("same-key", "m5.large", "eu-central-1a", false));

        assertThat(second.id()).isEqualTo(first.id());
        assertThat(ec2.instances()).hasSize(1);
        assertThat(ec2.requests("RunInstances")).hasSize(1);
    }

    @Test
    void aRunInstancesResponseLostAfterCreationIsRetriedWithTheSameClientTokenAndLeavesOneInstance() throws Exception {
        ec2.loseNextRunInstancesResponses(1);

        Instance i = aws.launch(request("lost-response", "m5.large", "eu-central-1a", false));

        assertThat(ec2.instances()).extracting(x -> x.id).containsExactly(i.id());
        assertThat(ec2.requests("RunInstances")).hasSizeGreaterThanOrEqualTo(2)
                .allSatisfy(r -> assertThat(r.get("ClientToken")).isEqualTo("lost-response"));
    }

    @Test
    void aTimedOutAttemptIsRetried() throws Exception {
        ec2.slowNext(1, 2500);

        assertThat(aws.list("c1")).isEmpty();
        assertThat(ec2.requests("DescribeInstances")).hasSize(2);
    }

    @Test
    void throttlingIsRetriedByTheSdk() throws Exception {
        ec2.throttleNext(2);

        aws.launch(request("throttled", "m5.large", "eu-central-1a", false));

        assertThat(ec2.instances()).hasSize(1);
        assertThat(ec2.requests().size()).isGreaterThanOrEqualTo(5); // 2 refused + subnets + lookup + run
    }

    @Test
    void listFollowsEveryPageAndKeepsToTheCluster() throws Exception {
        for (int n = 0; n < 5; n++) aws.launch(request("k" + n, "m5.large", "eu-central-1a", false));
        aws.launch(new LaunchRequest("other", "m5.large", "eu-central-1", "eu-central-1a", false, 0,
                Map.of(Tags.CLUSTER, "c2", Tags.POOL, "aws-eu", Tags.REQUEST, "other"), bootstrap("other")));
        int before = ec2.requests("DescribeInstances").size();

        List<Instance> mine = aws.list("c1");

        assertThat(mine).hasSize(5).allSatisfy(i -> assertThat(i.tags()).containsEntry(Tags.CLUSTER, "c1"));
        List<Ec2LoopbackServer.Request> pages = ec2.requests("DescribeInstances").subList(before, ec2.requests("DescribeInstances").size());
        assertThat(pages).hasSize(3);
        assertThat(pages.get(0).params()).containsEntry("Filter.1.Name", "tag:" + Tags.CLUSTER).containsEntry("Filter.1.Value.1", "c1");
        assertThat(pages.get(1).get("NextToken")).isEqualTo("page-2");
        assertThat(pages.get(2).get("NextToken")).isEqualTo("page-4");
    }

    @Test
    void terminateIsIdempotentAndAnUnknownInstanceIsAlreadyGone() throws Exception {
        Instance i = aws.launch(request("to-terminate", "m5.large", "eu-central-1a", false));

        aws.terminate(i.id());
        aws.terminate(i.id());
        aws.terminate("i-0000000000000dead");

        assertThat(ec2.instance(i.id()).state).isEqualTo("terminated");
        assertThat(aws.list("c1")).extracting(Instance::state).containsExactly(Instance.State.TERMINATED);
    }

    @Test
    void insufficientCapacityIsACapacityErrorSoTheBrokerFallsBack() {
        ec2.noCapacity("m5.large", true);

        assertThatThrownBy(() -> aws.launch(request("no-room", "m5.large", "eu-central-1a", true)))
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.INSUFFICIENT_CAPACITY);
                    assertThat(e.offeringUnavailable()).isTrue();
                    assertThat(e.getMessage()).contains("InsufficientInstanceCapacity");
                });
        assertThat(ec2.instances()).isEmpty();
    }

    @Test
    void aMissingPermissionNamesTheIamAction() {
        ec2.unauthorized("RunInstances");

        assertThatThrownBy(() -> aws.launch(request("denied", "m5.large", "eu-central-1a", false)))
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.UNAUTHORIZED);
                    assertThat(e.getMessage()).contains("ec2:RunInstances").contains("iam-policy.json");
                });
    }

    @Test
    void aWrongSubnetIsAConfigurationErrorNamingTheSetting() {
        aws.close();
        aws = new AwsProvider(new AwsProvider.Settings("eu-central-1", Optional.of(ec2.endpoint()), "ami-1", List.of("subnet-nope"),
                List.of(), Optional.empty(), List.of("m5.large"), "aws-eu-central-1", dev.spillway.provider.spi.AgentDownload.plaintext("http://b/agent.jar", "0".repeat(64)), Duration.ofSeconds(1),
                Optional.of(StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDEXAMPLE", "secret-example")))));

        assertThatThrownBy(() -> aws.offerings())
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.INVALID_CONFIGURATION);
                    assertThat(e.getMessage()).contains("'subnets'");
                });
    }

    @Test
    void theJoinTokenNeverAppearsInTheRequestLog() throws Exception {
        LaunchRequest r = request("printable", "m5.large", "eu-central-1a", false);
        assertThat(r.toString()).doesNotContain("s3cr3t");
    }

    @Test
    void theIamPolicyGrantsExactlyTheActionsTheProviderCalls() throws Exception {
        aws.offerings();
        Instance i = aws.launch(request("policy", "m5.large", "eu-central-1a", true));
        aws.list("c1");
        aws.terminate(i.id());
        java.util.Set<String> called = new java.util.TreeSet<>();
        ec2.requests().forEach(r -> called.add("ec2:" + r.action()));
        // Tags at launch need ec2:CreateTags; an instance profile needs iam:PassRole.
        called.addAll(List.of("ec2:CreateTags", "iam:PassRole"));

        String policy = java.nio.file.Files.readString(java.nio.file.Path.of("iam-policy.json"));
        java.util.Set<String> granted = new java.util.TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"(ec2|iam):([A-Za-z]+)\"(?!\\s*:)").matcher(policy);
        while (m.find()) granted.add(m.group(1) + ":" + m.group(2));

        assertThat(granted).isEqualTo(called);
        assertThat(policy).doesNotContain("\"ec2:*\"").doesNotContain("\"Action\": \"*\"");
    }

    private static LaunchRequest request(String key, String type, String zone, boolean spot) {
        return new LaunchRequest(key, type, "eu-central-1", zone, spot, spot ? 0.065 : 0,
                Map.of(Tags.CLUSTER, "c1", Tags.POOL, "aws-eu", Tags.REQUEST, key), bootstrap(key));
    }

    private static AgentBootstrap bootstrap(String key) {
        return new AgentBootstrap("broker.example.com:7070", "join.s3cr3t-token", "aws-eu-" + key.split("-")[0], "aws-eu",
                Map.of("spillway.dev/instance-type", "m5.large"));
    }
}
