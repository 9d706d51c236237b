package dev.spillway.provider.azure;

import com.azure.core.credential.TokenCredential;
import dev.spillway.provider.spi.AgentDownload;
import com.azure.core.exception.ClientAuthenticationException;
import com.azure.core.exception.HttpResponseException;
import com.azure.core.http.HttpClient;
import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.core.management.AzureEnvironment;
import com.azure.core.management.exception.ManagementException;
import com.azure.core.management.polling.PollResult;
import com.azure.core.management.profile.AzureProfile;
import com.azure.core.util.polling.LongRunningOperationStatus;
import com.azure.core.util.polling.PollResponse;
import com.azure.core.util.polling.SyncPoller;
import com.azure.identity.DefaultAzureCredentialBuilder;
import com.azure.resourcemanager.compute.ComputeManager;
import com.azure.resourcemanager.compute.fluent.VirtualMachinesClient;
import com.azure.resourcemanager.compute.fluent.models.VirtualMachineInner;
import com.azure.resourcemanager.compute.models.VirtualMachinePriorityTypes;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.CapacityException.Kind;
import dev.spillway.provider.spi.CapacityProvider;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.Tags;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;

/**
 * Azure virtual machines through the Azure Resource Manager SDK (the compute management client).
 *
 * <ul>
 *   <li><b>offerings</b>: the pool's VM sizes in its location, shapes from Resource SKUs and
 *       prices from the Retail Prices API ({@link AzureOfferings});</li>
 *   <li><b>launch</b>: a VM named after the idempotency key (a second launch with the key finds
 *       it), built by {@link VmDefinition}; the long-running operation is followed (polling
 *       {@code Azure-AsyncOperation}) for up to {@code provisioningWait}, so allocation failures
 *       become capacity errors, and a VM such a failure left behind is deleted;</li>
 *   <li><b>list</b>: the resource group's VMs carrying the cluster tag, every page;</li>
 *   <li><b>terminate</b>: start deleting the VM (its NIC and disk go with it); one already gone is success.</li>
 * </ul>
 * Credentials come from {@code DefaultAzureCredential} (environment, workload identity, managed
 * identity, Azure CLI); 429s are retried by the SDK's retry policy, honouring {@code Retry-After}.
 * Errors become {@link CapacityException}s as {@link AzureErrors} says.
 */
public final class AzureProvider implements CapacityProvider {

    private static final Logger LOG = Logger.getLogger(AzureProvider.class.getName());
    public static final URI RETAIL_PRICES = URI.create("https://prices.azure.com/api/retail/prices");

    /**
     * A pool's Azure settings.
     *
     * @param subscriptionId   the subscription to launch in
     * @param resourceGroup    the resource group holding the pool's VMs
     * @param location         e.g. {@code westeurope}
     * @param subnetId         ARM id of the subnet the VMs' NICs join
     * @param image            {@code publisher:offer:sku:version} or an image resource id
     * @param vmSizes          VM sizes the pool may launch
     * @param livePrices       read prices from the Retail Prices API instead of the bundled snapshot
     * @param pricesEndpoint   the Retail Prices API
     * @param agent            where VMs download the agent jar, its SHA-256, and the CA they trust for the broker
     * @param provisioningWait how long a launch follows the create operation before returning a booting VM
     * @param requestTimeout   longest wait for one HTTP response (the SDK retries after it)
     * @param managementEndpoint an ARM endpoint other than the public cloud's (sovereign clouds, tests)
     * @param credential       a credential other than {@code DefaultAzureCredential} (tests)
     * @param trust            TLS trust for private endpoints (tests)
     */
    public record Settings(String subscriptionId, String resourceGroup, String location, String subnetId, String image, List<String> vmSizes,
                           boolean livePrices, URI pricesEndpoint, AgentDownload agent, Duration provisioningWait, Duration requestTimeout,
                           Optional<URI> managementEndpoint, Optional<TokenCredential> credential, Optional<SSLContext> trust) {
        public Settings {
            vmSizes = List.copyOf(vmSizes);
            if (vmSizes.isEmpty()) throw new IllegalArgumentException("instance-types: at least one VM size is needed");
        }
    }

    private final Settings settings;
    private final VirtualMachinesClient vms;
    private final AzureOfferings offerings;
    private final VmDefinition definition;

    public AzureProvider(Settings settings) {
        this.settings = settings;
        java.net.http.HttpClient.Builder jdk = java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        settings.trust().ifPresent(jdk::sslContext);
        HttpClient http = new JdkHttpClientBuilder(jdk).responseTimeout(settings.requestTimeout()).build();
        AzureEnvironment environment = settings.managementEndpoint().map(AzureProvider::environment).orElse(AzureEnvironment.AZURE);
        AzureProfile profile = new AzureProfile(null, settings.subscriptionId(), environment);
        TokenCredential credential = settings.credential().orElseGet(() -> new DefaultAzureCredentialBuilder()
                .authorityHost(environment.getActiveDirectoryEndpoint()).build());
        ComputeManager compute = ComputeManager.configure().withHttpClient(http).authenticate(credential, profile);
        this.vms = compute.serviceClient().getVirtualMachines();
        this.offerings = new AzureOfferings(settings, compute, jdk.build());
        this.definition = new VmDefinition(settings);
    }

    private static AzureEnvironment environment(URI endpoint) {
        Map<String, String> endpoints = new HashMap<>(AzureEnvironment.AZURE.getEndpoints());
        String url = endpoint.toString().endsWith("/") ? endpoint.toString() : endpoint + "/";
        endpoints.put("resourceManagerEndpointUrl", url);
        endpoints.put("managementEndpointUrl", url);
        return new AzureEnvironment(endpoints);
    }

    @Override
    public String kind() {
        return "azure";
    }

    @Override
    public List<InstanceOffering> offerings() throws CapacityException {
        return offerings.read();
    }

    @Override
    public Map<String, String> unusableInstanceTypes() {
        return offerings.unusable();
    }

    @Override
    public Instance launch(LaunchRequest request) throws CapacityException {
        String name = VmDefinition.vmName(request.idempotencyKey());
        Optional<VirtualMachineInner> existing = get(name);
        if (existing.isPresent()) return toInstance(existing.get());
        VirtualMachineInner vm = definition.of(name, request);
        SyncPoller<PollResult<VirtualMachineInner>, VirtualMachineInner> poller =
                AzureErrors.call("Microsoft.Compute/virtualMachines/write", "image", () -> vms.beginCreateOrUpdate(settings.resourceGroup(), name, vm));
        try {
            PollResponse<PollResult<VirtualMachineInner>> done = follow(poller, settings.provisioningWait());
            if (done == null) {
                LOG.info(() -> "azure: " + name + " is still being created; it joins when it boots");
                return get(name).map(this::toInstance)
                        .orElseThrow(() -> new CapacityException(Kind.UNAVAILABLE, "VM " + name + " vanished while being created"));
            }
            if (done.getStatus() != LongRunningOperationStatus.SUCCESSFULLY_COMPLETED) {
                CapacityException failed = AzureErrors.failed("Microsoft.Compute/virtualMachines/write", done);
                if (failed.offeringUnavailable()) deleteQuietly(name); // a VM left Failed by an allocation failure
                throw failed;
            }
            Instance launched = toInstance(poller.getFinalResult());
            LOG.info(() -> "azure: launched " + name + " (" + request.instanceType() + (request.spot() ? ", spot" : "") + ")");
            return launched;
        } catch (ManagementException e) {
            CapacityException mapped = AzureErrors.mapped("Microsoft.Compute/virtualMachines/write", "image", e);
            if (mapped.offeringUnavailable()) deleteQuietly(name);
            throw mapped;
        } catch (HttpResponseException e) {
            throw AzureErrors.mapped("Microsoft.Compute/virtualMachines/write", "image", e);
        }
    }

    /**
     * Polls a long-running operation (as {@code Azure-AsyncOperation} and {@code Retry-After}
     * say) until it completes or {@code within} passes; null when it is still running then.
     */
    private static <T> PollResponse<PollResult<T>> follow(SyncPoller<PollResult<T>, T> poller, Duration within) throws CapacityException {
        Instant deadline = Instant.now().plus(within);
        try {
            while (true) {
                PollResponse<PollResult<T>> response = poller.poll();
                if (response.getStatus().isComplete()) return response;
                long left = Duration.between(Instant.now(), deadline).toMillis();
                if (left <= 0) return null;
                Duration wait = response.getRetryAfter() != null ? response.getRetryAfter() : Duration.ofSeconds(5);
                Thread.sleep(Math.min(wait.toMillis(), left));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CapacityException(Kind.UNAVAILABLE, "interrupted while waiting for Azure", e);
        }
    }

    @Override
    public List<Instance> list(String cluster) throws CapacityException {
        return AzureErrors.call("Microsoft.Compute/virtualMachines/read", "resource-group", () -> {
            List<Instance> out = new ArrayList<>();
            for (VirtualMachineInner vm : vms.listByResourceGroup(settings.resourceGroup())) {
                if (vm.tags() != null && cluster.equals(vm.tags().get(Tags.CLUSTER))) out.add(toInstance(vm));
            }
            return out;
        });
    }

    /**
     * Starts deleting the VM (its NIC and disk go with it) and returns once Azure has accepted;
     * the deletion goes on in Azure. One already gone is success.
     */
    @Override
    public void terminate(String instanceId) throws CapacityException {
        try {
            vms.beginDelete(settings.resourceGroup(), instanceId);
        } catch (ManagementException e) {
            if (e.getResponse() != null && e.getResponse().getStatusCode() == 404) return; // already gone
            throw AzureErrors.mapped("Microsoft.Compute/virtualMachines/delete", "resource-group", e);
        } catch (ClientAuthenticationException e) {
            throw AzureErrors.unauthenticated(e);
        } catch (HttpResponseException e) {
            if (e.getResponse() != null && e.getResponse().getStatusCode() == 404) return;
            throw AzureErrors.mapped("Microsoft.Compute/virtualMachines/delete", "resource-group", e);
        } catch (RuntimeException e) {
            throw new CapacityException(Kind.UNAVAILABLE, "deleting VM " + instanceId + " failed: " + e.getMessage(), e);
        }
    }

    private void deleteQuietly(String name) {
        try {
            terminate(name);
        } catch (CapacityException e) {
            LOG.warning("azure: could not delete the failed VM " + name + " (" + e.getMessage() + "); reconciliation will retry");
        }
    }

    private Optional<VirtualMachineInner> get(String name) throws CapacityException {
        try {
            return Optional.of(vms.getByResourceGroup(settings.resourceGroup(), name));
        } catch (ManagementException e) {
            if (e.getResponse() != null && e.getResponse().getStatusCode() == 404) return Optional.empty();
            throw AzureErrors.mapped("Microsoft.Compute/virtualMachines/read", "resource-group", e);
        } catch (ClientAuthenticationException e) {
            throw AzureErrors.unauthenticated(e);
        } catch (HttpResponseException e) {
            throw AzureErrors.mapped("Microsoft.Compute/virtualMachines/read", "resource-group", e);
        }
    }

    private Instance toInstance(VirtualMachineInner vm) {
        String state = vm.provisioningState() == null ? "Creating" : vm.provisioningState();
        Instance.State mapped = switch (state) {
            case "Succeeded" -> Instance.State.RUNNING;
            case "Creating", "Updating", "Migrating" -> Instance.State.PENDING;
            // Failed VMs are still there (and may be billed for their disk): the broker deletes them.
            default -> Instance.State.STOPPING;
        };
        Instant created = vm.timeCreated() != null ? vm.timeCreated().toInstant() : Instant.now();
        return new Instance(vm.name(), vm.hardwareProfile() == null ? "" : vm.hardwareProfile().vmSize().toString(), settings.location(),
                settings.location(), vm.priority() == VirtualMachinePriorityTypes.SPOT, mapped,
                vm.tags() == null ? Map.of() : vm.tags(), created);
    }
}
