package dev.spillway.provider.azure;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import dev.spillway.provider.spi.CapacityProvider;
import dev.spillway.provider.spi.CapacityProviderContractTest;
import dev.spillway.provider.spi.InstanceOffering;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import reactor.core.publisher.Mono;

/**
 * The Azure provider passes the provider contract through the real Resource Manager SDK against
 * the loopback ARM endpoint over HTTPS; VMs boot when their create operation completes.
 */
class AzureProviderContractTest extends CapacityProviderContractTest {

    private static final String SUBSCRIPTION = "00000000-0000-0000-0000-0000000000bb";
    private static final String SUBNET = "/subscriptions/" + SUBSCRIPTION
            + "/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/burst-vnet/subnets/agents";
    private static final TokenCredential TOKEN = request -> Mono.just(new AccessToken("test-token", OffsetDateTime.now().plusHours(1)));

    private ArmLoopbackServer arm;

    @Override
    protected CapacityProvider newProvider() throws Exception {
        arm = new ArmLoopbackServer(SUBSCRIPTION, "spillway-rg", SUBNET)
                .size("Standard_D2s_v5", 2, 8, 0)
                .size("Standard_F4s_v2", 4, 8, 0);
        arm.pageSize(2);
        return new AzureProvider(new AzureProvider.Settings(SUBSCRIPTION, "spillway-rg", "westeurope", SUBNET,
                "Canonical:ubuntu-24_04-lts:server:latest", List.of("Standard_D2s_v5", "Standard_F4s_v2"), false, arm.pricesEndpoint(),
                dev.spillway.provider.spi.AgentDownload.plaintext("http://broker.example.com:7070/agent/spillway-agent.jar", "0".repeat(64)), Duration.ofSeconds(10), Duration.ofSeconds(2),
                Optional.of(arm.endpoint()), Optional.of(TOKEN), Optional.of(arm.clientTrust())));
    }

    @Override
    protected void closeProvider() throws Exception {
        arm.close();
    }

    @Override
    protected int listPageSize() {
        return 2;
    }

    /** Azure accepts the VM, then its create operation ends Failed with AllocationFailed. */
    @Override
    protected void exhaustCapacity(InstanceOffering offering) {
        arm.allocationFails(offering.instanceType());
    }

    @Override
    protected boolean exceedQuotaOnNextLaunch() {
        arm.quotaExceededNext(1);
        return true;
    }

    @Override
    protected boolean loseNextLaunchResponse() {
        arm.loseNextCreateResponses(1);
        return true;
    }

    @Override
    protected String unknownInstanceId() {
        return "spillway-never-was";
    }
}
