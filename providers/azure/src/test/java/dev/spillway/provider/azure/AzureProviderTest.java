package dev.spillway.provider.azure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import dev.spillway.provider.spi.AgentBootstrap;
import dev.spillway.provider.spi.BootScript;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.InstanceShape;
import dev.spillway.provider.spi.Tags;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/** The Azure provider through the real Resource Manager SDK against a loopback ARM endpoint over HTTPS. */
class AzureProviderTest {

    private static final String SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa";
    private static final String SUBNET = "/subscriptions/" + SUBSCRIPTION
            + "/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/burst-vnet/subnets/agents";
    private static final TokenCredential TOKEN = request -> Mono.just(new AccessToken("test-token", OffsetDateTime.now().plusHours(1)));

    private ArmLoopbackServer arm;
    private AzureProvider azure;

    @BeforeEach
    void start() throws Exception {
        arm = new ArmLoopbackServer(SUBSCRIPTION, "spillway-rg", SUBNET)
                .size("Standard_D2s_v5", 2, 8, 0)
                .size("Standard_F4s_v2", 4, 8, 0)
                .size("Standard_NC4as_T4_v3", 4, 28, 1)
                .restrictedSize("Standard_E2s_v5", 2, 16);
        azure = provider("spillway-rg", SUBNET, false);
    }

    private AzureProvider provider(String resourceGroup, String subnet, boolean livePrices) throws Exception {
        return provider(resourceGroup, subnet, livePrices, List.of("Standard_D2s_v5", "Standard_F4s_v2", "Standard_NC4as_T4_v3", "Standard_E2s_v5"));
    }

    private AzureProvider provider(String resourceGroup, String subnet, boolean livePrices, List<String> sizes) throws Exception {
        return new AzureProvider(new AzureProvider.Settings(SUBSCRIPTION, resourceGroup, "westeurope", subnet,
                "Canonical:ubuntu-24_04-lts:server:latest", sizes, livePrices, arm.pricesEndpoint(),
                dev.spillway.provider.spi.AgentDownload.plaintext("http://broker.example.com:7070/agent/spillway-agent.jar", "0".repeat(64)), Duration.ofSeconds(10), Duration.ofSeconds(1),
                Optional.of(arm.endpoint()), Optional.of(TOKEN), Optional.of(arm.clientTrust())));
    }

    @AfterEach
    void stop() throws Exception {
        arm.close();
    }

    @Test
    void offeringsTakeShapesFromResourceSkusAndPricesFromTheBundledRetailSnapshot() throws Exception {
        List<InstanceOffering> offerings = azure.offerings();

        assertThat(offerings).contains(
                new InstanceOffering("Standard_D2s_v5", "westeurope", "westeurope", new InstanceShape(2000, 8192, 0), false, 0.1150, true),
                new InstanceOffering("Standard_D2s_v5", "westeurope", "westeurope", new InstanceShape(2000, 8192, 0), true, 0.0230, true),
                new InstanceOffering("Standard_NC4as_T4_v3", "westeurope", "westeurope", new InstanceShape(4000, 28672, 1), false, 0.5940, true));
        assertThat(offerings).filteredOn(o -> o.instanceType().equals("Standard_E2s_v5")).isNotEmpty().noneMatch(InstanceOffering::available);
        assertThat(azure.unusableInstanceTypes()).containsOnlyKeys("Standard_E2s_v5")
                .hasEntrySatisfying("Standard_E2s_v5", why -> assertThat(why).contains("restricted").contains("NotAvailableForSubscription"));
        var skus = arm.requests("GET", "/providers/Microsoft.Compute/skus").get(0);
        assertThat(skus.query()).containsEntry("$filter", "location eq 'westeurope'");
        assertThat(arm.requests()).allSatisfy(r -> assertThat(r.authorization()).isEqualTo("Bearer test-token"));
    }

    @Test
    void aSizeResourceSkusDoesNotListIsLeftOutAndNamedWhileTheOthersAreOffered() throws Exception {
        AzureProvider pool = provider("spillway-rg", SUBNET, false, List.of("Standard_D2s_v5", "Standard_D2s_nosuch"));

        List<InstanceOffering> offerings = pool.offerings();

        assertThat(offerings).extracting(InstanceOffering::instanceType, InstanceOffering::spot, InstanceOffering::available)
                .containsExactly(tuple("Standard_D2s_v5", false, true), tuple("Standard_D2s_v5", true, true));
        assertThat(pool.unusableInstanceTypes()).containsOnlyKeys("Standard_D2s_nosuch")
                .hasEntrySatisfying("Standard_D2s_nosuch", why -> assertThat(why).contains("Resource SKUs").contains("westeurope"));
    }

    @Test
    void aSizeWithoutAPriceIsLeftOutAndNamed() throws Exception {
        arm.size("Standard_Unpriced_v1", 2, 4, 0).price("Standard_D2s_v5", "D2s v5", "Virtual Machines Dsv5 Series", 0.101);
        AzureProvider live = provider("spillway-rg", SUBNET, true, List.of("Standard_D2s_v5", "Standard_Unpriced_v1"));

        assertThat(live.offerings()).extracting(InstanceOffering::instanceType).containsOnly("Standard_D2s_v5");
        assertThat(live.unusableInstanceTypes()).containsOnlyKeys("Standard_Unpriced_v1")
                .hasEntrySatisfying("Standard_Unpriced_v1", why -> assertThat(why).contains("no Linux price").contains("Retail Prices API"));
    }

    @Test
    void livePricesFollowEveryPageAndSkipWindowsAndLowPriorityMeters() throws Exception {
        arm.price("Standard_D2s_v5", "D2s v5", "Virtual Machines Dsv5 Series", 0.101)
                .price("Standard_D2s_v5", "D2s v5", "Virtual Machines Dsv5 Series Windows", 0.201)
                .price("Standard_D2s_v5", "D2s v5 Low Priority", "Virtual Machines Dsv5 Series", 0.011)
                .price("Standard_D2s_v5", "D2s v5 Spot", "Virtual Machines Dsv5 Series", 0.019)
                .price("Standard_F4s_v2", "F4s v2", "Virtual Machines FSv2 Series", 0.177)
                .price("Standard_F4s_v2", "F4s v2 Spot", "Virtual Machines FSv2 Series", 0.035)
                .price("Standard_NC4as_T4_v3", "NC4as T4 v3", "Virtual Machines NCasv3_T4 Series", 0.551);
        AzureProvider live = provider("spillway-rg", SUBNET, true);

        List<InstanceOffering> offerings = live.offerings();

        assertThat(offerings).filteredOn(o -> o.instanceType().equals("Standard_D2s_v5"))
                .extracting(InstanceOffering::spot, InstanceOffering::priceUsdPerHour)
                .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple(false, 0.101), org.assertj.core.groups.Tuple.tuple(true, 0.019));
        assertThat(offerings).filteredOn(o -> o.instanceType().equals("Standard_NC4as_T4_v3")).extracting(InstanceOffering::spot).containsExactly(false);
        var pages = arm.requests("GET", "/api/retail/prices");
        assertThat(pages).hasSize(3);
        assertThat(pages.get(0).query().get("$filter")).contains("serviceName eq 'Virtual Machines'").contains("armRegionName eq 'westeurope'");
    }

    @Test
    @SuppressWarnings("unchecked")
    void launchCreatesOneTaggedVmThatBootsTheAgentAndDeletesItsNicAndDiskWithIt() throws Exception {
        Instance i = azure.launch(request("0e9d7c55-aaaa-4bbb-8ccc-000000000001", "Standard_D2s_v5", true));

        assertThat(i.id()).isEqualTo("spillway-0e9d7c55-aaaa-4bbb-8ccc-000000000001");
        assertThat(i.state()).isEqualTo(Instance.State.RUNNING);
        assertThat(i.spot()).isTrue();
        assertThat(i.tags()).containsEntry(Tags.CLUSTER, "c1").containsEntry(Tags.POOL, "azure-we");

        var put = arm.requests("PUT", "/virtualMachines/" + i.id()).get(0);
        assertThat(put.path()).startsWith("/subscriptions/" + SUBSCRIPTION + "/resourceGroups/spillway-rg/");
        Map<String, Object> body = put.body();
        assertThat(body).containsEntry("location", "westeurope");
        assertThat((Map<String, Object>) body.get("tags")).containsEntry(Tags.REQUEST, "0e9d7c55-aaaa-4bbb-8ccc-000000000001");
        Map<String, Object> props = (Map<String, Object>) body.get("properties");
        assertThat(props).containsEntry("priority", "Spot").containsEntry("evictionPolicy", "Delete");
        assertThat((Map<String, Object>) props.get("billingProfile")).containsEntry("maxPrice", 0.05);
        assertThat((Map<String, Object>) props.get("hardwareProfile")).containsEntry("vmSize", "Standard_D2s_v5");
        Map<String, Object> os = (Map<String, Object>) props.get("osProfile");
        assertThat(os).containsEntry("computerName", i.id()).containsEntry("adminUsername", "spillway");
        Map<String, Object> linux = (Map<String, Object>) os.get("linuxConfiguration");
        assertThat(linux).containsEntry("disablePasswordAuthentication", true);
        assertThat(linux.toString()).contains("ssh-rsa ");
        Map<String, Object> network = (Map<String, Object>) props.get("networkProfile");
        assertThat(network).containsEntry("networkApiVersion", "2020-11-01");
        assertThat(network.toString()).contains("deleteOption=Delete").contains(SUBNET);
        Map<String, Object> storage = (Map<String, Object>) props.get("storageProfile");
        assertThat((Map<String, Object>) storage.get("osDisk")).containsEntry("deleteOption", "Delete").containsEntry("createOption", "FromImage");
        assertThat((Map<String, Object>) storage.get("imageReference")).containsEntry("publisher", "Canonical").containsEntry("sku", "server");
        assertThat(arm.requests("GET", "").stream().filter(r -> r.path().contains("/operations/"))).isNotEmpty();

        BootScript.Parsed boot = BootScript.parse(arm.vm(i.id()).customDataText());
        assertThat(boot.environment()).containsEntry("SPILLWAY_BROKER", "broker.example.com:7070").containsEntry("SPILLWAY_JOIN_TOKEN", "join.az-s3cret");
        assertThat(boot.agentArguments()).containsSubsequence("--pool", "azure-we").containsSubsequence("--spot-watch", "azure");
        assertThat(arm.nics()).containsExactly(i.id() + "-nic");
        assertThat(arm.disks()).containsExactly(i.id() + "-os");

        azure.terminate(i.id());
        azure.terminate(i.id());

        // Deleting goes on in Azure after the call returns.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> arm.vms().isEmpty());
        assertThat(arm.deletedNics()).containsExactly(i.id() + "-nic");
        assertThat(arm.deletedDisks()).containsExactly(i.id() + "-os");
    }

    @Test
    @SuppressWarnings("unchecked")
    void onDemandVmsHaveNoSpotSettings() throws Exception {
        Instance i = azure.launch(request("k-on-demand", "Standard_F4s_v2", false));

        Map<String, Object> props = (Map<String, Object>) arm.requests("PUT", "/virtualMachines/" + i.id()).get(0).body().get("properties");
        assertThat(props).doesNotContainKeys("priority", "evictionPolicy", "billingProfile");
        assertThat(i.spot()).isFalse();
    }

    @Test
    @SuppressWarnings("unchecked")
    void aSpotMaxPriceKeepsAzuresFivePlacesRoundedUpAndATinyOneNeverBecomesZero() throws Exception {
        Map<String, Double> caps = new java.util.LinkedHashMap<>();
        caps.put("tiny", 0.00041);
        caps.put("tinier", 0.0000004);
        caps.put("long", 0.1234561);
        caps.put("computed", 0.0433 * 1.5);
        caps.put("uncapped", 0.0);
        for (var cap : caps.entrySet()) {
            azure.launch(new LaunchRequest(cap.getKey(), "Standard_D2s_v5", "westeurope", "westeurope", true, cap.getValue(),
                    Map.of(Tags.CLUSTER, "c1", Tags.POOL, "azure-we", Tags.REQUEST, cap.getKey()), bootstrap()));
        }

        Map<String, Object> sent = new java.util.LinkedHashMap<>();
        for (String key : caps.keySet()) {
            Map<String, Object> props = (Map<String, Object>) arm.requests("PUT", "/virtualMachines/spillway-" + key).get(0).body().get("properties");
            sent.put(key, ((Map<String, Object>) props.get("billingProfile")).get("maxPrice"));
        }
        // -1 is Azure's "up to the on-demand price".
        assertThat(sent).containsExactly(Map.entry("tiny", 0.00041), Map.entry("tinier", 0.00001), Map.entry("long", 0.12346),
                Map.entry("computed", 0.06495), Map.entry("uncapped", -1.0));
    }

    @Test
    void aRetriedLaunchWithTheSameKeyFindsTheVmAndCreatesNothing() throws Exception {
        Instance first = azure.launch(request("same-key", "Standard_D2s_v5", false));
        Instance again = azure.launch(request("same-key", "Standard_D2s_v5", false));

        assertThat(again.id()).isEqualTo(first.id());
        assertThat(arm.vms()).hasSize(1);
        assertThat(arm.requests("PUT", "/virtualMachines/" + first.id())).hasSize(1);
    }

    @Test
    void aCreateResponseLostAfterTheVmWasCreatedLeavesOneVm() throws Exception {
        arm.loseNextCreateResponses(1);

        Instance i = azure.launch(request("lost-response", "Standard_D2s_v5", false));

        assertThat(arm.vms()).extracting(vm -> vm.name).containsExactly(i.id());
        assertThat(arm.requests("PUT", "/virtualMachines/" + i.id())).hasSizeGreaterThanOrEqualTo(2);
        assertThat(i.state()).isEqualTo(Instance.State.RUNNING);
    }

    @Test
    void throttlingIsRetriedAfterTheRetryAfterDelay() throws Exception {
        arm.throttleNext(1);
        long start = System.nanoTime();

        assertThat(azure.list("c1")).isEmpty();

        assertThat(arm.throttledAt()).hasSize(1);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(950));
        assertThat(arm.requests("GET", "/virtualMachines")).hasSize(2);
    }

    @Test
    void aTimedOutRequestIsRetried() throws Exception {
        arm.slowNext(1, 2500);

        assertThat(azure.list("c1")).isEmpty();
        assertThat(arm.requests("GET", "/virtualMachines")).hasSize(2);
    }

    @Test
    void listFollowsNextLinkAndKeepsToTheCluster() throws Exception {
        for (int n = 0; n < 4; n++) azure.launch(request("k" + n, "Standard_D2s_v5", false));
        azure.launch(new LaunchRequest("other", "Standard_D2s_v5", "westeurope", "westeurope", false, 0,
                Map.of(Tags.CLUSTER, "c2", Tags.POOL, "azure-we", Tags.REQUEST, "other"), bootstrap()));
        int before = arm.requests("GET", "/virtualMachines").size();

        assertThat(azure.list("c1")).hasSize(4).allSatisfy(i -> assertThat(i.tags()).containsEntry(Tags.CLUSTER, "c1"));

        var pages = arm.requests("GET", "/virtualMachines").subList(before, arm.requests("GET", "/virtualMachines").size());
        assertThat(pages).hasSize(3);
        assertThat(pages.get(1).query()).containsEntry("$skiptoken", "2");
    }

    @Test
    void aSpotEvictionDeletesTheVmAndListStopsShowingIt() throws Exception {
        Instance i = azure.launch(request("evicted", "Standard_D2s_v5", true));

        arm.evict(i.id());

        assertThat(azure.list("c1")).isEmpty();
        assertThat(arm.deletedNics()).containsExactly(i.id() + "-nic");
    }

    @Test
    void aQuotaErrorIsACapacityErrorSoTheBrokerFallsBack() {
        arm.quotaExceededNext(1);

        assertThatThrownBy(() -> azure.launch(request("quota", "Standard_D2s_v5", false)))
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.QUOTA_EXCEEDED);
                    assertThat(e.offeringUnavailable()).isTrue();
                    assertThat(e.getMessage()).contains("Total Regional Cores quota");
                });
        assertThat(arm.vms()).isEmpty();
    }

    @Test
    void anAllocationFailureEndingTheOperationIsACapacityErrorAndTheFailedVmIsDeleted() {
        arm.allocationFails("Standard_F4s_v2");

        assertThatThrownBy(() -> azure.launch(request("no-room", "Standard_F4s_v2", true)))
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.INSUFFICIENT_CAPACITY);
                    assertThat(e.getMessage()).contains("AllocationFailed");
                });
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> arm.vms().isEmpty());
        assertThat(arm.deletedDisks()).containsExactly("spillway-no-room-os");
    }

    @Test
    void aSizeAzureHasNoRoomForIsACapacityErrorSoTheBrokerFallsBack() {
        arm.skuNotAvailable("Standard_F4s_v2");

        assertThatThrownBy(() -> azure.launch(request("sku-gone", "Standard_F4s_v2", true)))
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.INSUFFICIENT_CAPACITY);
                    assertThat(e.offeringUnavailable()).isTrue();
                    assertThat(e.getMessage()).contains("SkuNotAvailable");
                });
        assertThat(arm.vms()).isEmpty();
    }

    @Test
    void aMissingPermissionNamesTheAction() {
        arm.forbid("PUT");

        assertThatThrownBy(() -> azure.launch(request("denied", "Standard_D2s_v5", false)))
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.UNAUTHORIZED);
                    assertThat(e.getMessage()).contains("Microsoft.Compute/virtualMachines/write").contains("role-definition.json");
                });
    }

    @Test
    void aWrongSubnetOrResourceGroupIsAConfigurationErrorNamingTheSetting() throws Exception {
        AzureProvider wrongSubnet = provider("spillway-rg", SUBNET.replace("agents", "nope"), false);
        assertThatThrownBy(() -> wrongSubnet.launch(request("bad-subnet", "Standard_D2s_v5", false)))
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.INVALID_CONFIGURATION);
                    assertThat(e.getMessage()).contains("'subnet-id'");
                });
        AzureProvider wrongGroup = provider("nope-rg", SUBNET, false);
        assertThatThrownBy(() -> wrongGroup.list("c1"))
                .isInstanceOfSatisfying(CapacityException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CapacityException.Kind.INVALID_CONFIGURATION);
                    assertThat(e.getMessage()).contains("'resource-group'");
                });
    }

    @Test
    void theRoleDefinitionGrantsExactlyWhatTheProviderCallsAndWhatItsVmsCreate() throws Exception {
        azure.offerings();
        Instance i = azure.launch(request("role", "Standard_D2s_v5", true));
        azure.list("c1");
        azure.terminate(i.id());
        Set<String> called = new TreeSet<>();
        for (ArmLoopbackServer.Request r : arm.requests()) {
            if (r.path().endsWith("/skus")) called.add("Microsoft.Compute/skus/read");
            else if (r.path().contains("/operations/")) called.add("Microsoft.Compute/locations/operations/read");
            else if (r.path().contains("/virtualMachines")) {
                called.add("Microsoft.Compute/virtualMachines/" + switch (r.method()) {
                    case "PUT" -> "write";
                    case "DELETE" -> "delete";
                    default -> "read";
                });
            }
        }
        // What a VM with its own NIC and OS disk needs on the caller's behalf.
        called.addAll(List.of("Microsoft.Compute/disks/write", "Microsoft.Compute/disks/delete", "Microsoft.Network/networkInterfaces/write",
                "Microsoft.Network/networkInterfaces/delete", "Microsoft.Network/networkInterfaces/join/action",
                "Microsoft.Network/virtualNetworks/subnets/join/action"));

        String role = Files.readString(Path.of("role-definition.json"));
        Set<String> granted = new TreeSet<>();
        Matcher m = Pattern.compile("\"(Microsoft\\.[A-Za-z]+/[A-Za-z/]+)\"").matcher(role);
        while (m.find()) granted.add(m.group(1));

        assertThat(granted).isEqualTo(called);
        assertThat(role).doesNotContain("\"*\"");
    }

    private static LaunchRequest request(String key, String size, boolean spot) {
        return new LaunchRequest(key, size, "westeurope", "westeurope", spot, spot ? 0.05 : 0,
                Map.of(Tags.CLUSTER, "c1", Tags.POOL, "azure-we", Tags.REQUEST, key), bootstrap());
    }

    private static AgentBootstrap bootstrap() {
        return new AgentBootstrap("broker.example.com:7070", "join.az-s3cret", "azure-we-1", "azure-we", Map.of());
    }
}
