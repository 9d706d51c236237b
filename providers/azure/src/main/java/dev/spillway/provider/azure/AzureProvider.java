package dev.spillway.provider.azure;

import com.azure.core.credential.TokenCredential;
import com.azure.core.exception.ClientAuthenticationException;
import com.azure.core.exception.HttpResponseException;
import com.azure.core.http.HttpClient;
import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.core.management.AzureEnvironment;
import com.azure.core.management.SubResource;
import com.azure.core.management.exception.ManagementException;
import com.azure.core.management.polling.PollResult;
import com.azure.core.management.profile.AzureProfile;
import com.azure.core.util.Context;
import com.azure.core.util.polling.LongRunningOperationStatus;
import com.azure.core.util.polling.PollResponse;
import com.azure.core.util.polling.SyncPoller;
import com.azure.identity.DefaultAzureCredentialBuilder;
import com.azure.resourcemanager.compute.ComputeManager;
import com.azure.resourcemanager.compute.fluent.VirtualMachinesClient;
import com.azure.resourcemanager.compute.fluent.models.ResourceSkuInner;
import com.azure.resourcemanager.compute.fluent.models.VirtualMachineInner;
import com.azure.resourcemanager.compute.models.BillingProfile;
import com.azure.resourcemanager.compute.models.DeleteOptions;
import com.azure.resourcemanager.compute.models.DiskCreateOptionTypes;
import com.azure.resourcemanager.compute.models.DiskDeleteOptionTypes;
import com.azure.resourcemanager.compute.models.HardwareProfile;
import com.azure.resourcemanager.compute.models.ImageReference;
import com.azure.resourcemanager.compute.models.LinuxConfiguration;
import com.azure.resourcemanager.compute.models.ManagedDiskParameters;
import com.azure.resourcemanager.compute.models.NetworkApiVersion;
import com.azure.resourcemanager.compute.models.NetworkProfile;
import com.azure.resourcemanager.compute.models.OSDisk;
import com.azure.resourcemanager.compute.models.OSProfile;
import com.azure.resourcemanager.compute.models.ResourceSkuCapabilities;
import com.azure.resourcemanager.compute.models.ResourceSkuRestrictions;
import com.azure.resourcemanager.compute.models.SshConfiguration;
import com.azure.resourcemanager.compute.models.SshPublicKey;
import com.azure.resourcemanager.compute.models.StorageAccountTypes;
import com.azure.resourcemanager.compute.models.StorageProfile;
import com.azure.resourcemanager.compute.models.VirtualMachineEvictionPolicyTypes;
import com.azure.resourcemanager.compute.models.VirtualMachineNetworkInterfaceConfiguration;
import com.azure.resourcemanager.compute.models.VirtualMachineNetworkInterfaceIpConfiguration;
import com.azure.resourcemanager.compute.models.VirtualMachinePriorityTypes;
import com.azure.resourcemanager.compute.models.VirtualMachineSizeTypes;
import dev.spillway.provider.spi.BootScript;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.CapacityException.Kind;
import dev.spillway.provider.spi.CapacityProvider;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.InstanceShape;
import dev.spillway.provider.spi.Tags;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;

/**
 * Azure virtual machines through the Azure Resource Manager SDK (the compute management client).
 *
 * <ul>
 *   <li><b>offerings</b>: the pool's VM sizes in its location; shapes from the Resource SKUs API
 *       (sizes restricted for the subscription are marked unavailable), prices from the bundled
 *       snapshot of the Retail Prices API or, with {@code livePrices}, from the API itself;</li>
 *   <li><b>launch</b>: a VM named after the idempotency key (a second launch with the key finds
 *       it), our tags, the boot script as custom data, a NIC and OS disk the VM creates and deletes
 *       with itself, and for spot {@code priority=Spot}, {@code evictionPolicy=Delete} and a max
 *       price; the long-running operation is followed (polling {@code Azure-AsyncOperation}) for
 *       up to {@code provisioningWait}, so allocation failures become capacity errors;</li>
 *   <li><b>list</b>: the resource group's VMs carrying the cluster tag, every page;</li>
 *   <li><b>terminate</b>: start deleting the VM (its NIC and disk go with it); one already gone is success.</li>
 * </ul>
 * Credentials come from {@code DefaultAzureCredential} (environment, workload identity, managed
 * identity, Azure CLI); 429s are retried by the SDK's retry policy, honouring {@code Retry-After}.
 * Instances get a fresh SSH key whose private half is thrown away: nobody logs in to them.
 */
public final class AzureProvider implements CapacityProvider {

    private static final Logger LOG = Logger.getLogger(AzureProvider.class.getName());
    public static final URI RETAIL_PRICES = URI.create("https://prices.azure.com/api/retail/prices");
    private static final String ADMIN = "spillway";

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
     * @param agentUrl         where VMs download the agent jar
     * @param provisioningWait how long a launch follows the create operation before returning a booting VM
     * @param requestTimeout   longest wait for one HTTP response (the SDK retries after it)
     * @param managementEndpoint an ARM endpoint other than the public cloud's (sovereign clouds, tests)
     * @param credential       a credential other than {@code DefaultAzureCredential} (tests)
     * @param trust            TLS trust for private endpoints (tests)
     */
    public record Settings(String subscriptionId, String resourceGroup, String location, String subnetId, String image, List<String> vmSizes,
                           boolean livePrices, URI pricesEndpoint, String agentUrl, Duration provisioningWait, Duration requestTimeout,
                           Optional<URI> managementEndpoint, Optional<TokenCredential> credential, Optional<SSLContext> trust) {
        public Settings {
            vmSizes = List.copyOf(vmSizes);
            if (vmSizes.isEmpty()) throw new IllegalArgumentException("instance-types: at least one VM size is needed");
        }
    }

    private final Settings settings;
    private final VirtualMachinesClient vms;
    private final ComputeManager compute;
    private final java.net.http.HttpClient priceHttp;
    private final String sshPublicKey = newSshPublicKey();

    public AzureProvider(Settings settings) {
        this.settings = settings;
        java.net.http.HttpClient.Builder jdk = java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        settings.trust().ifPresent(jdk::sslContext);
        HttpClient http = new JdkHttpClientBuilder(jdk).responseTimeout(settings.requestTimeout()).build();
        this.priceHttp = jdk.build();
        AzureEnvironment environment = settings.managementEndpoint().map(AzureProvider::environment).orElse(AzureEnvironment.AZURE);
        AzureProfile profile = new AzureProfile(null, settings.subscriptionId(), environment);
        TokenCredential credential = settings.credential().orElseGet(() -> new DefaultAzureCredentialBuilder()
                .authorityHost(environment.getActiveDirectoryEndpoint()).build());
        this.compute = ComputeManager.configure().withHttpClient(http).authenticate(credential, profile);
        this.vms = compute.serviceClient().getVirtualMachines();
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
        Map<String, RetailPrices.Price> prices = prices();
        List<InstanceOffering> out = new ArrayList<>();
        List<ResourceSkuInner> skus = call("Microsoft.Compute/skus/read", "location", () -> {
            List<ResourceSkuInner> all = new ArrayList<>();
            compute.serviceClient().getResourceSkus().list("location eq '" + settings.location() + "'", null, Context.NONE).forEach(all::add);
            return all;
        });
        Map<String, ResourceSkuInner> bySize = new HashMap<>();
        for (ResourceSkuInner sku : skus) {
            if ("virtualMachines".equals(sku.resourceType())) bySize.putIfAbsent(sku.name(), sku);
        }
        for (String size : settings.vmSizes()) {
            ResourceSkuInner sku = bySize.get(size);
            if (sku == null) {
                LOG.warning("azure: VM size " + size + " is not offered in " + settings.location() + "; left out");
                continue;
            }
            InstanceShape shape = new InstanceShape(Math.round(capability(sku, "vCPUs") * 1000), Math.round(capability(sku, "MemoryGB") * 1024),
                    (int) capability(sku, "GPUs"));
            boolean available = sku.restrictions() == null || sku.restrictions().stream().noneMatch(AzureProvider::blocksLocation);
            RetailPrices.Price price = prices.get(size);
            if (price == null) {
                LOG.warning("azure: no price for " + size + " in " + settings.location() + "; left out");
                continue;
            }
            if (!Double.isNaN(price.onDemand())) out.add(new InstanceOffering(size, settings.location(), settings.location(), shape, false, price.onDemand(), available));
            if (!Double.isNaN(price.spot())) out.add(new InstanceOffering(size, settings.location(), settings.location(), shape, true, price.spot(), available));
        }
        return out;
    }

    private Map<String, RetailPrices.Price> prices() throws CapacityException {
        if (!settings.livePrices()) return RetailPrices.bundled(settings.location());
        try {
            return RetailPrices.live(settings.pricesEndpoint(), settings.location(), priceHttp);
        } catch (IOException e) {
            throw new CapacityException(Kind.UNAVAILABLE, "the Azure Retail Prices API could not be read: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CapacityException(Kind.UNAVAILABLE, "interrupted while reading the Azure Retail Prices API", e);
        }
    }

    private static boolean blocksLocation(ResourceSkuRestrictions r) {
        return r.type() != null && "Location".equalsIgnoreCase(r.type().toString());
    }

    private static double capability(ResourceSkuInner sku, String name) {
        if (sku.capabilities() == null) return 0;
        for (ResourceSkuCapabilities c : sku.capabilities()) {
            if (name.equalsIgnoreCase(c.name())) return Double.parseDouble(c.value());
        }
        return 0;
    }

    @Override
    public Instance launch(LaunchRequest request) throws CapacityException {
        String name = vmName(request.idempotencyKey());
        Optional<VirtualMachineInner> existing = get(name);
        if (existing.isPresent()) return toInstance(existing.get());
        VirtualMachineInner vm = definition(name, request);
        SyncPoller<PollResult<VirtualMachineInner>, VirtualMachineInner> poller =
                call("Microsoft.Compute/virtualMachines/write", "image", () -> vms.beginCreateOrUpdate(settings.resourceGroup(), name, vm));
        try {
            PollResponse<PollResult<VirtualMachineInner>> done = follow(poller, settings.provisioningWait());
            if (done == null) {
                LOG.info(() -> "azure: " + name + " is still being created; it joins when it boots");
                return get(name).map(this::toInstance)
                        .orElseThrow(() -> new CapacityException(Kind.UNAVAILABLE, "VM " + name + " vanished while being created"));
            }
            if (done.getStatus() != LongRunningOperationStatus.SUCCESSFULLY_COMPLETED) {
                CapacityException failed = failed("Microsoft.Compute/virtualMachines/write", done);
                if (failed.offeringUnavailable()) deleteQuietly(name); // a VM left Failed by an allocation failure
                throw failed;
            }
            Instance launched = toInstance(poller.getFinalResult());
            LOG.info(() -> "azure: launched " + name + " (" + request.instanceType() + (request.spot() ? ", spot" : "") + ")");
            return launched;
        } catch (ManagementException e) {
            CapacityException mapped = mapped("Microsoft.Compute/virtualMachines/write", "image", e);
            if (mapped.offeringUnavailable()) deleteQuietly(name);
            throw mapped;
        } catch (HttpResponseException e) {
            throw mapped("Microsoft.Compute/virtualMachines/write", "image", e);
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

    /** The error a failed long-running operation reported, mapped. */
    @SuppressWarnings("unchecked")
    private static CapacityException failed(String action, PollResponse<? extends PollResult<?>> done) {
        PollResult.Error error = done.getValue() == null ? null : done.getValue().getError();
        String code = "";
        String message = error == null ? String.valueOf(done.getStatus()) : error.getMessage();
        if (error != null && error.getResponseBody() != null) {
            try (var reader = com.azure.json.JsonProviders.createReader(error.getResponseBody())) {
                Map<String, Object> body = (Map<String, Object>) reader.readUntyped();
                Object inner = body.get("error");
                if (inner instanceof Map<?, ?> e) {
                    code = String.valueOf(e.get("code"));
                    message = String.valueOf(e.get("message"));
                }
            } catch (IOException | RuntimeException unreadable) {
                // keep the poller's message
            }
        }
        Kind kind = kindOf(code, message, error == null ? 0 : error.getResponseStatusCode());
        String text = kind.equals(Kind.INSUFFICIENT_CAPACITY) ? "no capacity: " + code + ": " + message
                : kind.equals(Kind.QUOTA_EXCEEDED) ? "a subscription quota stops the launch: " + code + ": " + message
                : action + " failed: " + code + ": " + message;
        return new CapacityException(kind, text);
    }

    private VirtualMachineInner definition(String name, LaunchRequest request) {
        String customData = Base64.getEncoder().encodeToString(
                BootScript.render(request.bootstrap(), settings.agentUrl(), "azure").getBytes(StandardCharsets.UTF_8));
        VirtualMachineInner vm = new VirtualMachineInner()
                .withHardwareProfile(new HardwareProfile().withVmSize(VirtualMachineSizeTypes.fromString(request.instanceType())))
                .withStorageProfile(new StorageProfile()
                        .withImageReference(image(settings.image()))
                        .withOsDisk(new OSDisk().withName(name + "-os").withCreateOption(DiskCreateOptionTypes.FROM_IMAGE)
                                .withDeleteOption(DiskDeleteOptionTypes.DELETE)
                                .withManagedDisk(new ManagedDiskParameters().withStorageAccountType(StorageAccountTypes.STANDARD_SSD_LRS))))
                .withOsProfile(new OSProfile().withComputerName(name).withAdminUsername(ADMIN).withCustomData(customData)
                        .withLinuxConfiguration(new LinuxConfiguration().withDisablePasswordAuthentication(true)
                                .withSsh(new SshConfiguration().withPublicKeys(List.of(new SshPublicKey()
                                        .withPath("/home/" + ADMIN + "/.ssh/authorized_keys").withKeyData(sshPublicKey))))))
                .withNetworkProfile(new NetworkProfile().withNetworkApiVersion(NetworkApiVersion.TWO_ZERO_TWO_ZERO_ONE_ONE_ZERO_ONE)
                        .withNetworkInterfaceConfigurations(List.of(new VirtualMachineNetworkInterfaceConfiguration()
                                .withName(name + "-nic").withPrimary(true).withDeleteOption(DeleteOptions.DELETE)
                                .withIpConfigurations(List.of(new VirtualMachineNetworkInterfaceIpConfiguration().withName("ipconfig")
                                        .withPrimary(true).withSubnet(new SubResource().withId(settings.subnetId())))))));
        if (request.spot()) {
            vm.withPriority(VirtualMachinePriorityTypes.SPOT)
                    .withEvictionPolicy(VirtualMachineEvictionPolicyTypes.DELETE)
                    .withBillingProfile(new BillingProfile().withMaxPrice(request.maxPriceUsdPerHour()));
        }
        vm.withLocation(settings.location());
        vm.withTags(new HashMap<>(request.tags()));
        return vm;
    }

    @Override
    public List<Instance> list(String cluster) throws CapacityException {
        return call("Microsoft.Compute/virtualMachines/read", "resource-group", () -> {
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
            throw mapped("Microsoft.Compute/virtualMachines/delete", "resource-group", e);
        } catch (ClientAuthenticationException e) {
            throw unauthenticated(e);
        } catch (HttpResponseException e) {
            if (e.getResponse() != null && e.getResponse().getStatusCode() == 404) return;
            throw mapped("Microsoft.Compute/virtualMachines/delete", "resource-group", e);
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
            throw mapped("Microsoft.Compute/virtualMachines/read", "resource-group", e);
        } catch (ClientAuthenticationException e) {
            throw unauthenticated(e);
        } catch (HttpResponseException e) {
            throw mapped("Microsoft.Compute/virtualMachines/read", "resource-group", e);
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

    /** {@code spillway-} and the key, lower-cased, with anything but letters, digits and hyphens dropped (at most 64 characters). */
    static String vmName(String key) {
        String clean = key.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "");
        String name = "spillway-" + clean;
        return name.length() <= 64 ? name : name.substring(0, 64);
    }

    private static ImageReference image(String image) {
        if (image.startsWith("/")) return new ImageReference().withId(image);
        String[] p = image.split(":");
        if (p.length != 4) throw new IllegalArgumentException("image must be publisher:offer:sku:version or an image resource id");
        return new ImageReference().withPublisher(p[0]).withOffer(p[1]).withSku(p[2]).withVersion(p[3]);
    }

    private interface Call<T> {
        T run();
    }

    private static <T> T call(String action, String setting, Call<T> call) throws CapacityException {
        try {
            return call.run();
        } catch (ClientAuthenticationException e) {
            throw unauthenticated(e);
        } catch (HttpResponseException e) {
            throw mapped(action, setting, e);
        } catch (RuntimeException e) {
            throw new CapacityException(Kind.UNAVAILABLE, action + " failed: " + e.getMessage(), e);
        }
    }

    private static CapacityException unauthenticated(ClientAuthenticationException e) {
        return new CapacityException(Kind.UNAUTHORIZED, "no Azure credential worked (DefaultAzureCredential: environment, workload or managed identity, "
                + "Azure CLI): " + e.getMessage(), e);
    }

    static CapacityException mapped(String action, String setting, HttpResponseException e) {
        String code = "";
        String message = e.getMessage();
        if (e instanceof ManagementException m && m.getValue() != null) {
            code = m.getValue().getCode() == null ? "" : m.getValue().getCode();
            message = m.getValue().getMessage();
        }
        int status = e.getResponse() == null ? 0 : e.getResponse().getStatusCode();
        Kind kind = kindOf(code, message, status);
        String named = code.contains("Image") ? "image" : code.contains("Subnet") || code.equals("InvalidResourceReference") ? "subnet-id"
                : code.equals("ResourceGroupNotFound") ? "resource-group" : code.equals("InvalidSubscriptionId") || code.equals("SubscriptionNotFound")
                ? "subscription-id" : code.equals("InvalidParameter") && message != null && message.contains("vmSize") ? "instance-types" : setting;
        String text = switch (kind) {
            case UNAUTHORIZED -> "the Azure identity may not call " + action + " (" + code + ": " + message + "); assign it the role in "
                    + "providers/azure/role-definition.json";
            case INVALID_CONFIGURATION -> "check the pool setting '" + named + "': " + action + " refused it: " + code + ": " + message;
            case INSUFFICIENT_CAPACITY -> "no capacity: " + code + ": " + message;
            case QUOTA_EXCEEDED -> "a subscription quota stops the launch: " + code + ": " + message;
            case THROTTLED -> action + " is throttled even after retries (HTTP 429)";
            default -> action + " failed: HTTP " + status + " " + code + ": " + message;
        };
        return new CapacityException(kind, text, e);
    }

    static Kind kindOf(String code, String message, int status) {
        String m = message == null ? "" : message.toLowerCase(Locale.ROOT);
        return switch (code) {
            case "AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest", "OverconstrainedZonalAllocationRequest",
                 "SkuNotAvailable", "SpotMaxPriceIsLessThanCurrentPrice" -> Kind.INSUFFICIENT_CAPACITY;
            case "QuotaExceeded" -> Kind.QUOTA_EXCEEDED;
            case "OperationNotAllowed" -> m.contains("quota") ? Kind.QUOTA_EXCEEDED : Kind.INVALID_CONFIGURATION;
            case "AuthorizationFailed", "LinkedAuthorizationFailed", "InvalidAuthenticationToken", "AuthenticationFailed" -> Kind.UNAUTHORIZED;
            default -> status == 429 ? Kind.THROTTLED
                    : status == 401 || status == 403 ? Kind.UNAUTHORIZED
                    : code.startsWith("Invalid") || code.endsWith("NotFound") || status == 400 ? Kind.INVALID_CONFIGURATION
                    : Kind.UNAVAILABLE;
        };
    }

    /** A fresh RSA key in OpenSSH form; the private half is never kept. */
    private static String newSshPublicKey() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(3072);
            RSAPublicKey key = (RSAPublicKey) g.generateKeyPair().getPublic();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            for (byte[] part : new byte[][] {"ssh-rsa".getBytes(StandardCharsets.US_ASCII), key.getPublicExponent().toByteArray(),
                    key.getModulus().toByteArray()}) {
                out.writeInt(part.length);
                out.write(part);
            }
            return "ssh-rsa " + Base64.getEncoder().encodeToString(bytes.toByteArray()) + " spillway-no-login";
        } catch (NoSuchAlgorithmException | IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
