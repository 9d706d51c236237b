package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.Task;
import dev.spillway.provider.azure.ArmLoopbackServer;
import dev.spillway.provider.spi.Tags;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Bursting end to end with a pool of kind {@code azure}: the broker uses the Azure provider (the
 * Resource Manager SDK, {@code DefaultAzureCredential}) against a loopback ARM endpoint over HTTPS.
 * The credential chain finds the Azure CLI on the broker's PATH (here a script that prints a token
 * the way {@code az account get-access-token} does). A VM "boots" when its create operation
 * completes, by doing what its custom data says.
 */
class AzureBurstIT {

    private static final String SUBSCRIPTION = "00000000-0000-0000-0000-0000000000bb";
    private static final String SUBNET = "/subscriptions/" + SUBSCRIPTION
            + "/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/burst-vnet/subnets/agents";

    @Test
    void burstsIntoAzureAndDeletesTheVmsWhenIdle() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "it").toAbsolutePath());
        Path bin = Files.createTempDirectory(dir, "az-cli-");
        Path az = bin.resolve("az");
        Files.writeString(az, """
                #!/bin/sh
                # Stands in for the Azure CLI: what `az account get-access-token --output json` prints.
                expires=$(( $(date +%s) + 3600 ))
                printf '{"accessToken":"cli-token","expiresOn":"%s","expires_on":%s,"subscription":"%s","tenant":"t","tokenType":"Bearer"}\\n' \\
                  "$(date -d @$expires '+%Y-%m-%d %H:%M:%S.000000')" "$expires" "$SPILLWAY_TEST_SUBSCRIPTION"
                """);
        Files.setPosixFilePermissions(az, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (BootedInstances machines = new BootedInstances(Files.createTempDirectory(dir, "vm-"));
             ArmLoopbackServer arm = new ArmLoopbackServer(SUBSCRIPTION, "spillway-rg", SUBNET)
                     .size("Standard_D2s_v5", 2, 8, 0)
                     .size("Standard_F4s_v2", 4, 8, 0)) {
            arm.onRun(vm -> machines.boot(vm.name, vm.customDataText(), vm.size.equals("Standard_F4s_v2") ? 4 : 2, 8192, () -> { }));
            arm.onDelete(vm -> machines.shutDown(vm.name));
            try (ClusterFixture fx = new ClusterFixture("azure-burst", 1, "20s", o -> {
                o.brokerProperties.put("spillway.burst-interval", "500ms");
                o.brokerProperties.put("spillway.pools.onprem.kind", "on-prem");
                o.brokerProperties.put("spillway.pools.azure-we.kind", "azure");
                o.brokerProperties.put("spillway.pools.azure-we.region", "westeurope");
                o.brokerProperties.put("spillway.pools.azure-we.endpoint", arm.endpoint().toString());
                o.brokerProperties.put("spillway.pools.azure-we.subscription-id", SUBSCRIPTION);
                o.brokerProperties.put("spillway.pools.azure-we.resource-group", "spillway-rg");
                o.brokerProperties.put("spillway.pools.azure-we.subnet-id", SUBNET);
                o.brokerProperties.put("spillway.pools.azure-we.instance-types", "Standard_D2s_v5,Standard_F4s_v2");
                o.brokerProperties.put("spillway.pools.azure-we.max-nodes", "3");
                o.brokerProperties.put("spillway.pools.azure-we.burst-after", "2s");
                o.brokerProperties.put("spillway.pools.azure-we.scale-down-after", "4s");
                o.brokerProperties.put("javax.net.ssl.trustStore", arm.trustStore().toString());
                o.brokerProperties.put("javax.net.ssl.trustStorePassword", "changeit");
                o.brokerProperties.put("javax.net.ssl.trustStoreType", "PKCS12");
                o.brokerEnvironment.put("PATH", bin + ":" + System.getenv("PATH"));
                o.brokerEnvironment.put("SPILLWAY_TEST_SUBSCRIPTION", SUBSCRIPTION);
                // No managed identity here: point its metadata endpoint at a closed port, so the chain moves on to the CLI.
                o.brokerEnvironment.put("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:" + LocalCluster.freePort());
            })) {
                String id = fx.submit(ClusterFixture.spotJob(8, "sleep 4"));
                await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() -> fx.job(id).getJob().hasFinishTime());
                JobAndTasks job = fx.job(id);
                assertThat(ClusterFixture.finishedOk(job)).isTrue();
                assertThat(job.getTasksList().stream().map(Task::getNode).distinct().toList()).anyMatch(n -> n.startsWith("azure-we-"));

                List<CloudInstance> instances = fx.awaitAllInstancesTerminated(Duration.ofSeconds(60));
                assertThat(instances).isNotEmpty().hasSizeLessThanOrEqualTo(3).anySatisfy(i -> assertThat(i.hasJoinTime()).isTrue()).allSatisfy(i -> {
                    // An instance whose job found room elsewhere while it booted is given back before it joins.
                    if (!i.hasJoinTime()) assertThat(i.getReason()).as("%s never joined", i.getNode()).isEqualTo("no waiting task needs it any more");
                    assertThat(i.getSpot()).isTrue();
                });
                // What ARM saw: one VM per instance, named after its request, created with our tags, all deleted with NIC and disk.
                await().atMost(Duration.ofSeconds(10)).until(() -> arm.vms().isEmpty());
                var creates = arm.requests().stream().filter(r -> r.method().equals("PUT")).toList();
                assertThat(creates).hasSize(instances.size()).allSatisfy(r -> {
                    @SuppressWarnings("unchecked")
                    var tags = (java.util.Map<String, Object>) r.body().get("tags");
                    assertThat(tags).containsEntry(Tags.CLUSTER, "spillway").containsEntry(Tags.POOL, "azure-we");
                    assertThat(r.path()).endsWith("/virtualMachines/spillway-" + tags.get(Tags.REQUEST));
                });
                assertThat(arm.deletedNics()).hasSize(instances.size());
                assertThat(arm.deletedDisks()).hasSize(instances.size());
                assertThat(arm.requests()).filteredOn(r -> !r.path().startsWith("/api/"))
                        .allSatisfy(r -> assertThat(r.authorization()).isEqualTo("Bearer cli-token"));
                await().atMost(Duration.ofSeconds(30)).until(() -> !machines.anyRunning());
            }
        }
    }
}
