package dev.spillway.provider.aws;

import dev.spillway.provider.spi.AgentDownload;
import dev.spillway.provider.spi.BootScript;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.CapacityException.Kind;
import dev.spillway.provider.spi.CapacityProvider;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.Tags;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.DescribeInstancesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeSubnetsRequest;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.HttpTokensState;
import software.amazon.awssdk.services.ec2.model.IamInstanceProfileSpecification;
import software.amazon.awssdk.services.ec2.model.InstanceInterruptionBehavior;
import software.amazon.awssdk.services.ec2.model.InstanceMarketOptionsRequest;
import software.amazon.awssdk.services.ec2.model.InstanceMetadataOptionsRequest;
import software.amazon.awssdk.services.ec2.model.MarketType;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.RunInstancesRequest;
import software.amazon.awssdk.services.ec2.model.SpotInstanceType;
import software.amazon.awssdk.services.ec2.model.SpotMarketOptions;
import software.amazon.awssdk.services.ec2.model.Subnet;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;

/**
 * EC2 capacity through the AWS SDK for Java v2.
 *
 * <ul>
 *   <li><b>offerings</b>: the pool's instance types in the zones of its subnets, shapes and spot
 *       prices from EC2, on-demand prices from the price catalog ({@link AwsOfferings});</li>
 *   <li><b>launch</b>: first DescribeInstances for an instance already tagged with the request
 *       (a broker that crashed mid-launch finds it), else RunInstances with the idempotency key as
 *       ClientToken (retries of a lost response return the same instance), tags on the instance and
 *       its volumes, the boot script as user data, IMDSv2 required, spot as a one-time request with
 *       a max price;</li>
 *   <li><b>list</b>: DescribeInstances filtered by the cluster tag, every page;</li>
 *   <li><b>terminate</b>: TerminateInstances; an instance already gone is success.</li>
 * </ul>
 * Credentials come from the SDK's default chain (environment, profile, web identity, instance
 * role); throttling is retried by the SDK's adaptive retry mode. Errors are mapped to
 * {@link CapacityException} kinds ({@link Ec2Errors}): capacity errors make the broker fall back
 * to the next offering.
 */
public final class AwsProvider implements CapacityProvider, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(AwsProvider.class.getName());
    /** Decimal places of EC2 spot prices (DescribeSpotPriceHistory answers e.g. {@code 0.034900}); a max price is rounded up to them. */
    static final int SPOT_PRICE_DECIMALS = 6;

    /**
     * A pool's EC2 settings.
     *
     * @param region           e.g. {@code eu-central-1}
     * @param endpoint         an EC2 endpoint other than the region's (a VPC endpoint, or a test server)
     * @param imageId          AMI the instances boot (any Linux with systemd, curl and dnf or apt)
     * @param subnets          subnets to launch into, one per zone used
     * @param securityGroups   security groups of the instances (they need outbound access to the broker)
     * @param instanceProfile  instance profile name or ARN, if the instances need a role
     * @param instanceTypes    instance types the pool may launch
     * @param catalog          on-demand prices: a bundled catalog name or a CSV file
     * @param agent            where instances download the agent jar, its SHA-256, and the CA they trust for the broker
     * @param attemptTimeout   longest wait for one HTTP attempt (the SDK retries; a whole call gives up after four of these and a minute)
     * @param credentials      credentials other than the default chain (tests)
     */
    public record Settings(String region, Optional<URI> endpoint, String imageId, List<String> subnets, List<String> securityGroups,
                           Optional<String> instanceProfile, List<String> instanceTypes, String catalog, AgentDownload agent,
                           Duration attemptTimeout, Optional<AwsCredentialsProvider> credentials) {
        public Settings {
            subnets = List.copyOf(subnets);
            securityGroups = List.copyOf(securityGroups);
            instanceTypes = List.copyOf(instanceTypes);
            if (subnets.isEmpty()) throw new IllegalArgumentException("subnets: at least one subnet is needed");
            if (instanceTypes.isEmpty()) throw new IllegalArgumentException("instance-types: at least one instance type is needed");
        }
    }

    private final Settings settings;
    private final Ec2Client ec2;
    private final AwsOfferings offerings;
    /** Subnet of each zone, learnt from DescribeSubnets on first use. */
    private volatile Map<String, String> subnetByZone;

    public AwsProvider(Settings settings) {
        this.settings = settings;
        var builder = Ec2Client.builder()
                .region(Region.of(settings.region()))
                .credentialsProvider(settings.credentials().orElseGet(() -> DefaultCredentialsProvider.builder().build()))
                .overrideConfiguration(o -> o.retryStrategy(RetryMode.ADAPTIVE_V2)
                        .apiCallAttemptTimeout(settings.attemptTimeout())
                        .apiCallTimeout(settings.attemptTimeout().multipliedBy(4).plus(Duration.ofMinutes(1))));
        settings.endpoint().ifPresent(builder::endpointOverride);
        this.ec2 = builder.build();
        this.offerings = new AwsOfferings(settings, ec2);
    }

    @Override
    public String kind() {
        return "aws";
    }

    @Override
    public List<InstanceOffering> offerings() throws CapacityException {
        return offerings.read(subnets().keySet());
    }

    @Override
    public Map<String, String> unusableInstanceTypes() {
        return offerings.unusable();
    }

    @Override
    public Instance launch(LaunchRequest request) throws CapacityException {
        Optional<Instance> existing = byRequest(request.tags().get(Tags.REQUEST));
        if (existing.isPresent()) return existing.get();
        String subnet = subnets().get(request.zone());
        if (subnet == null) throw new CapacityException(Kind.INVALID_CONFIGURATION, "subnets: no subnet of the pool is in zone " + request.zone());
        List<Tag> tags = request.tags().entrySet().stream().map(e -> Tag.builder().key(e.getKey()).value(e.getValue()).build()).toList();
        RunInstancesRequest.Builder run = RunInstancesRequest.builder()
                .clientToken(clientToken(request.idempotencyKey()))
                .imageId(settings.imageId())
                .instanceType(request.instanceType())
                .minCount(1)
                .maxCount(1)
                .subnetId(subnet)
                .userData(Base64.getEncoder().encodeToString(
                        BootScript.render(request.bootstrap(), settings.agent(), "aws").getBytes(StandardCharsets.UTF_8)))
                .metadataOptions(InstanceMetadataOptionsRequest.builder().httpTokens(HttpTokensState.REQUIRED).httpEndpoint("enabled").build())
                .tagSpecifications(
                        TagSpecification.builder().resourceType(ResourceType.INSTANCE).tags(tags).build(),
                        TagSpecification.builder().resourceType(ResourceType.VOLUME).tags(tags).build());
        if (!settings.securityGroups().isEmpty()) run.securityGroupIds(settings.securityGroups());
        settings.instanceProfile().ifPresent(p -> run.iamInstanceProfile(p.startsWith("arn:")
                ? IamInstanceProfileSpecification.builder().arn(p).build()
                : IamInstanceProfileSpecification.builder().name(p).build()));
        if (request.spot()) {
            SpotMarketOptions.Builder spot = SpotMarketOptions.builder()
                    .spotInstanceType(SpotInstanceType.ONE_TIME)
                    .instanceInterruptionBehavior(InstanceInterruptionBehavior.TERMINATE);
            // EC2 quotes spot prices to 6 decimal places; without a max price it caps at the on-demand price.
            request.spotMaxPrice(SPOT_PRICE_DECIMALS).ifPresent(max -> spot.maxPrice(max.stripTrailingZeros().toPlainString()));
            run.instanceMarketOptions(InstanceMarketOptionsRequest.builder().marketType(MarketType.SPOT).spotOptions(spot.build()).build());
        }
        var response = Ec2Errors.call("ec2:RunInstances", () -> ec2.runInstances(run.build()), "image-id");
        Instance launched = toInstance(response.instances().get(0));
        LOG.info(() -> "aws: launched " + launched.id() + " (" + request.instanceType() + (request.spot() ? ", spot" : "") + " in "
                + request.zone() + ")");
        return launched;
    }

    @Override
    public List<Instance> list(String cluster) throws CapacityException {
        return describe(Filter.builder().name("tag:" + Tags.CLUSTER).values(cluster).build());
    }

    @Override
    public void terminate(String instanceId) throws CapacityException {
        try {
            Ec2Errors.call("ec2:TerminateInstances", () -> ec2.terminateInstances(r -> r.instanceIds(instanceId)), "instance");
        } catch (CapacityException e) {
            if (Ec2Errors.code(e).equals("InvalidInstanceID.NotFound")) return; // already gone
            throw e;
        }
    }

    @Override
    public void close() {
        ec2.close();
    }

    private Optional<Instance> byRequest(String requestId) throws CapacityException {
        if (requestId == null) return Optional.empty();
        return describe(Filter.builder().name("tag:" + Tags.REQUEST).values(requestId).build()).stream()
                .filter(i -> i.state() != Instance.State.TERMINATED)
                .findFirst();
    }

    private List<Instance> describe(Filter filter) throws CapacityException {
        return Ec2Errors.call("ec2:DescribeInstances", () -> {
            List<Instance> out = new ArrayList<>();
            ec2.describeInstancesPaginator(DescribeInstancesRequest.builder().filters(filter).maxResults(100).build())
                    .reservations()
                    .forEach(r -> r.instances().forEach(i -> out.add(toInstance(i))));
            return out;
        }, "region");
    }

    private Map<String, String> subnets() throws CapacityException {
        Map<String, String> known = subnetByZone;
        if (known != null) return known;
        Map<String, String> byZone = new LinkedHashMap<>();
        Ec2Errors.call("ec2:DescribeSubnets", () -> {
            for (Subnet s : ec2.describeSubnets(DescribeSubnetsRequest.builder().subnetIds(settings.subnets()).build()).subnets()) {
                byZone.putIfAbsent(s.availabilityZone(), s.subnetId());
            }
            return null;
        }, "subnets");
        subnetByZone = Map.copyOf(byZone);
        return subnetByZone;
    }

    private Instance toInstance(software.amazon.awssdk.services.ec2.model.Instance i) {
        Map<String, String> tags = new HashMap<>();
        i.tags().forEach(t -> tags.put(t.key(), t.value()));
        Instance.State state = switch (i.state().nameAsString()) {
            case "pending" -> Instance.State.PENDING;
            case "running" -> Instance.State.RUNNING;
            case "shutting-down", "stopping", "stopped" -> Instance.State.STOPPING;
            default -> Instance.State.TERMINATED;
        };
        return new Instance(i.instanceId(), i.instanceTypeAsString(), settings.region(), i.placement().availabilityZone(),
                "spot".equals(i.instanceLifecycleAsString()), state, tags, i.launchTime());
    }

    /** EC2 client tokens are at most 64 ASCII characters; longer keys are hashed. */
    static String clientToken(String key) {
        if (key.length() <= 64 && key.chars().allMatch(c -> c > 32 && c < 127)) return key;
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(digest);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
