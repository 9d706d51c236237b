package dev.spillway.provider.azure;

import com.azure.core.management.SubResource;
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
import dev.spillway.provider.spi.LaunchRequest;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.RSAPublicKey;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;

/**
 * The body of a VM the pool creates: its size and image, our tags, the boot script as custom
 * data, a NIC in the pool's subnet and an OS disk that are both deleted with the VM, and for spot
 * {@code priority=Spot}, {@code evictionPolicy=Delete} and a max price. Every VM gets this
 * provider's SSH key, whose private half was thrown away: nobody logs in.
 */
final class VmDefinition {

    private static final String ADMIN = "spillway";
    /** Azure takes a spot max price with up to 5 decimal places (USD per hour, e.g. 0.01538). */
    static final int MAX_PRICE_DECIMALS = 5;

    private final AzureProvider.Settings settings;
    private final String sshPublicKey = newSshPublicKey();

    VmDefinition(AzureProvider.Settings settings) {
        this.settings = settings;
    }

    /** {@code spillway-} and the key, lower-cased, with anything but letters, digits and hyphens dropped (at most 64 characters). */
    static String vmName(String key) {
        String clean = key.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "");
        String name = "spillway-" + clean;
        return name.length() <= 64 ? name : name.substring(0, 64);
    }

    /** The VM named {@code name} that {@code request} asks for. */
    VirtualMachineInner of(String name, LaunchRequest request) {
        String customData = Base64.getEncoder().encodeToString(
                BootScript.render(request.bootstrap(), settings.agent(), "azure").getBytes(StandardCharsets.UTF_8));
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
                    // Rounded up to the places Azure takes; -1 is Azure's "up to the on-demand price".
                    .withBillingProfile(new BillingProfile().withMaxPrice(
                            request.spotMaxPrice(MAX_PRICE_DECIMALS).map(BigDecimal::doubleValue).orElse(-1.0)));
        }
        vm.withLocation(settings.location());
        vm.withTags(new HashMap<>(request.tags()));
        return vm;
    }

    private static ImageReference image(String image) {
        if (image.startsWith("/")) return new ImageReference().withId(image);
        String[] p = image.split(":");
        if (p.length != 4) throw new IllegalArgumentException("image must be publisher:offer:sku:version or an image resource id");
        return new ImageReference().withPublisher(p[0]).withOffer(p[1]).withSku(p[2]).withVersion(p[3]);
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
