package dev.spillway.provider.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link CapacityProvider} promises the broker, checked against a real provider and
 * its cloud (the local simulated cloud, or a loopback server speaking the cloud's wire protocol).
 *
 * <p><b>Adding a provider = implementing the SPI and passing this test.</b> Put a subclass next
 * to the provider's tests (depend on this module's test jar: {@code <type>test-jar</type>,
 * <scope>test</scope>}) and supply a fresh provider for each test plus the hooks below that make
 * its cloud misbehave the way real clouds do: run out of capacity, hit a quota, lose the answer to
 * a launch it carried out, page a listing. A hook the fixture cannot provide yet returns
 * {@code false} and its test is skipped, which says plainly what is not yet covered.
 *
 * <p>The contract:
 * <ul>
 *   <li>offerings are not empty and have positive prices and shapes; the types named by
 *       {@link CapacityProvider#unusableInstanceTypes()} are not among the available ones;</li>
 *   <li>a launch carries its tags (cluster, pool, request), boots, and is listed by
 *       {@code list(cluster)} and not by another cluster's;</li>
 *   <li>a launch repeated with the same idempotency key, also after its response was lost,
 *       leaves one instance and returns the same id;</li>
 *   <li>{@code list(cluster)} follows every page and keeps to its cluster;</li>
 *   <li>terminate is idempotent: twice, or an unknown instance, is success;</li>
 *   <li>no capacity, or a quota, is a {@link CapacityException} of kind
 *       {@link CapacityException.Kind#INSUFFICIENT_CAPACITY} or
 *       {@link CapacityException.Kind#QUOTA_EXCEEDED} whose {@code offeringUnavailable()} is
 *       true, and leaves no instance running or booting.</li>
 * </ul>
 */
public abstract class CapacityProviderContractTest {

    /** The broker cluster the contract's instances belong to. */
    protected static final String CLUSTER = "contract";
    /** Another broker's cluster sharing the same account. */
    protected static final String OTHER_CLUSTER = "contract-other";
    protected static final String POOL = "contract-pool";

    private static final Set<Instance.State> ALIVE = EnumSet.of(Instance.State.PENDING, Instance.State.RUNNING);

    protected CapacityProvider provider;

    // ---- what a subclass supplies ---------------------------------------------------------------

    /** A fresh provider on a fresh cloud (simulated, or a loopback server); called before each test. */
    protected abstract CapacityProvider newProvider() throws Exception;

    /** Releases what {@link #newProvider()} made; called after each test once its instances are terminated. */
    protected void closeProvider() throws Exception {
    }

    /**
     * The most instances one page of the cloud's listing holds in this fixture (set it small); the
     * contract launches more than two pages' worth. A provider whose cloud does not page returns
     * any small number.
     */
    protected abstract int listPageSize();

    /** From now on the cloud has no capacity for {@code offering}: launches of it fail as the cloud fails them. */
    protected abstract void exhaustCapacity(InstanceOffering offering);

    /** The cloud refuses the next launch for an account or subscription quota; false if this fixture cannot make it do so. */
    protected abstract boolean exceedQuotaOnNextLaunch();

    /**
     * The cloud carries out the next launch but its answer never reaches the provider (the
     * connection drops); false if this fixture cannot make it do so.
     */
    protected abstract boolean loseNextLaunchResponse();

    /** Lets the cloud finish booting {@code instance}, for clouds in the fixture that need a push; by default they boot on their own. */
    protected void boot(Instance instance) throws Exception {
    }

    /** How long an instance may take to be listed RUNNING after {@link #boot}. */
    protected Duration bootTimeout() {
        return Duration.ofSeconds(20);
    }

    /** An instance id this cloud never had. */
    protected String unknownInstanceId() {
        return "i-0000000000000dead";
    }

    // ---- the contract ----------------------------------------------------------------------------

    @BeforeEach
    final void createProvider() throws Exception {
        provider = newProvider();
    }

    @AfterEach
    final void terminateEverythingAndClose() throws Exception {
        try {
            for (String cluster : List.of(CLUSTER, OTHER_CLUSTER)) {
                for (Instance i : provider.list(cluster)) {
                    if (i.state() != Instance.State.TERMINATED) provider.terminate(i.id());
                }
            }
        } finally {
            closeProvider();
        }
    }

    @Test
    void offeringsAreNotEmptyAndHavePositivePricesAndShapes() throws Exception {
        List<InstanceOffering> offerings = provider.offerings();

        assertThat(provider.kind()).isNotBlank();
        assertThat(offerings).isNotEmpty().anyMatch(InstanceOffering::available);
        assertThat(offerings).allSatisfy(o -> {
            assertThat(o.instanceType()).isNotBlank();
            assertThat(o.region()).isNotBlank();
            assertThat(o.zone()).isNotBlank();
            assertThat(o.priceUsdPerHour()).isPositive().isFinite();
            assertThat(o.shape().cpuMillis()).isPositive();
            assertThat(o.shape().memoryMib()).isPositive();
            assertThat(o.shape().gpus()).isNotNegative();
        });
        Map<String, String> unusable = provider.unusableInstanceTypes();
        assertThat(unusable).isNotNull().allSatisfy((type, why) -> assertThat(why).isNotBlank());
        assertThat(offerings).filteredOn(InstanceOffering::available).noneMatch(o -> unusable.containsKey(o.instanceType()));
    }

    @Test
    void aLaunchCarriesItsTagsBootsAndIsListedByItsClusterOnly() throws Exception {
        LaunchRequest request = request(offering(), CLUSTER);

        Instance launched = provider.launch(request);

        assertThat(launched.id()).isNotBlank();
        assertThat(launched.instanceType()).isEqualTo(request.instanceType());
        assertThat(launched.state()).isIn(Instance.State.PENDING, Instance.State.RUNNING);
        assertThat(launched.tags()).containsEntry(Tags.CLUSTER, CLUSTER).containsEntry(Tags.POOL, POOL)
                .containsEntry(Tags.REQUEST, request.idempotencyKey());
        boot(launched);
        await().atMost(bootTimeout()).untilAsserted(() -> assertThat(provider.list(CLUSTER))
                .filteredOn(i -> i.id().equals(launched.id())).singleElement().satisfies(i -> {
                    assertThat(i.state()).isEqualTo(Instance.State.RUNNING);
                    assertThat(i.instanceType()).isEqualTo(request.instanceType());
                    assertThat(i.tags()).containsEntry(Tags.CLUSTER, CLUSTER).containsEntry(Tags.POOL, POOL)
                            .containsEntry(Tags.REQUEST, request.idempotencyKey());
                }));
        assertThat(provider.list(OTHER_CLUSTER)).extracting(Instance::id).doesNotContain(launched.id());
    }

    @Test
    void aLaunchRepeatedWithTheSameKeyReturnsTheSameInstance() throws Exception {
        LaunchRequest request = request(offering(), CLUSTER);

        Instance first = provider.launch(request);
        Instance again = provider.launch(request);

        assertThat(again.id()).isEqualTo(first.id());
        assertThat(launchedFor(request)).extracting(Instance::id).containsExactly(first.id());
    }

    @Test
    void aLaunchWhoseResponseWasLostLeavesOneInstanceWhenRepeated() throws Exception {
        assumeTrue(loseNextLaunchResponse(), "this fixture cannot lose a launch response yet");
        LaunchRequest request = request(offering(), CLUSTER);

        Instance first;
        try {
            first = provider.launch(request); // the provider (or its SDK) may retry by itself
        } catch (CapacityException lost) {
            assertThat(lost.kind()).as("a lost answer is worth retrying").isEqualTo(CapacityException.Kind.UNAVAILABLE);
            first = provider.launch(request); // the broker retries with the same key
        }
        Instance again = provider.launch(request);

        assertThat(again.id()).isEqualTo(first.id());
        assertThat(launchedFor(request)).extracting(Instance::id).containsExactly(first.id());
    }

    @Test
    void listFollowsEveryPageAndKeepsToItsCluster() throws Exception {
        InstanceOffering offering = offering();
        int count = 2 * listPageSize() + 1;
        Set<String> mine = new HashSet<>();
        for (int n = 0; n < count; n++) mine.add(provider.launch(request(offering, CLUSTER)).id());
        String theirs = provider.launch(request(offering, OTHER_CLUSTER)).id();

        List<Instance> listed = provider.list(CLUSTER);

        assertThat(mine).hasSize(count);
        assertThat(listed).extracting(Instance::id).containsExactlyInAnyOrderElementsOf(mine);
        assertThat(listed).allSatisfy(i -> assertThat(i.tags()).containsEntry(Tags.CLUSTER, CLUSTER));
        assertThat(provider.list(OTHER_CLUSTER)).extracting(Instance::id).containsExactly(theirs);
    }

    @Test
    void terminateIsIdempotentAndAnUnknownInstanceIsAlreadyGone() throws Exception {
        Instance launched = provider.launch(request(offering(), CLUSTER));

        provider.terminate(launched.id());
        provider.terminate(launched.id());
        provider.terminate(unknownInstanceId());

        await().atMost(bootTimeout()).untilAsserted(() -> assertThat(provider.list(CLUSTER))
                .filteredOn(i -> i.id().equals(launched.id())).noneMatch(i -> ALIVE.contains(i.state())));
    }

    @Test
    void noCapacityIsATypedCapacityErrorThatHidesTheOffering() throws Exception {
        InstanceOffering offering = offering();
        exhaustCapacity(offering);
        LaunchRequest request = request(offering, CLUSTER);

        CapacityException e = catchThrowableOfType(CapacityException.class, () -> provider.launch(request));

        assertThat(e).as("launching an offering without capacity").isNotNull();
        assertThat(e.kind()).isIn(CapacityException.Kind.INSUFFICIENT_CAPACITY, CapacityException.Kind.QUOTA_EXCEEDED);
        assertThat(e.offeringUnavailable()).isTrue();
        assertThat(e.getMessage()).isNotBlank();
        assertThat(launchedFor(request)).noneMatch(i -> ALIVE.contains(i.state()));
    }

    @Test
    void anExceededQuotaIsATypedCapacityErrorThatHidesTheOffering() throws Exception {
        InstanceOffering offering = offering();
        assumeTrue(exceedQuotaOnNextLaunch(), "this fixture cannot make the cloud refuse a launch for a quota yet");
        LaunchRequest request = request(offering, CLUSTER);

        CapacityException e = catchThrowableOfType(CapacityException.class, () -> provider.launch(request));

        assertThat(e).as("launching past a quota").isNotNull();
        assertThat(e.kind()).isEqualTo(CapacityException.Kind.QUOTA_EXCEEDED);
        assertThat(e.offeringUnavailable()).isTrue();
        assertThat(launchedFor(request)).noneMatch(i -> ALIVE.contains(i.state()));
    }

    // ---- helpers ---------------------------------------------------------------------------------

    /** The offering the contract launches: the first available on-demand one (spot prices move). */
    protected InstanceOffering offering() throws CapacityException {
        List<InstanceOffering> offerings = provider.offerings();
        return offerings.stream().filter(o -> o.available() && !o.spot()).findFirst()
                .or(() -> offerings.stream().filter(InstanceOffering::available).findFirst())
                .orElseThrow(() -> new AssertionError("no available offering to launch: " + offerings));
    }

    /** A launch of {@code offering} for {@code cluster} with a fresh idempotency key. */
    protected LaunchRequest request(InstanceOffering offering, String cluster) {
        String key = UUID.randomUUID().toString();
        return new LaunchRequest(key, offering.instanceType(), offering.region(), offering.zone(), offering.spot(),
                offering.spot() ? offering.priceUsdPerHour() * 1.5 : 0,
                Map.of(Tags.CLUSTER, cluster, Tags.POOL, POOL, Tags.REQUEST, key),
                new AgentBootstrap("127.0.0.1:1", "join.contract-token", "contract-" + key.substring(0, 8), POOL, Map.of()));
    }

    /** The instances the cloud lists for {@code request}'s cluster that carry its request tag. */
    protected List<Instance> launchedFor(LaunchRequest request) throws CapacityException {
        List<Instance> out = new ArrayList<>();
        for (Instance i : provider.list(request.tags().get(Tags.CLUSTER))) {
            if (request.idempotencyKey().equals(i.tags().get(Tags.REQUEST))) out.add(i);
        }
        return out;
    }
}
