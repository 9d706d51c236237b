package dev.spillway.bench.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.StringReader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PoolsFileTest {

    @Test
    void theExamplePoolsFileReadsWithItsDefaultsFilledIn() throws Exception {
        List<SimulatedPool> pools = PoolsFile.read(Path.of("pools.example.yaml"));

        assertThat(pools).extracting(SimulatedPool::name).containsExactly("aws-eu", "azure-we");
        SimulatedPool aws = pools.get(0);
        assertThat(aws.spec().maxNodes()).isEqualTo(12);
        assertThat(aws.spec().maxSpendUsdPerHour()).isEqualTo(2.0);
        assertThat(aws.spec().instanceTypes()).isEqualTo(Set.of("m5.large", "m5.xlarge", "c5.xlarge", "c6i.2xlarge"));
        assertThat(aws.spec().jurisdiction()).isEqualTo("EU");
        assertThat(aws.region()).isEqualTo("eu-central-1");
        assertThat(aws.bootDelayMin()).isEqualTo(Duration.ofSeconds(60));
        assertThat(aws.bootDelayMax()).isEqualTo(Duration.ofSeconds(90));
        SimulatedPool azure = pools.get(1);
        assertThat(azure.region()).isEqualTo("westeurope");
        assertThat(azure.zone()).isEqualTo("westeurope");
        assertThat(azure.spec().maxSpendUsdPerHour()).isInfinite();
        assertThat(azure.spec().joinTimeout()).isEqualTo(Duration.ofMinutes(5));
        assertThat(azure.spec().burstAfter()).isEqualTo(Duration.ofMinutes(2));
        assertThat(azure.offerings()).isNotEmpty().allSatisfy(o -> {
            assertThat(o.pool()).isEqualTo("azure-we");
            assertThat(o.id()).startsWith("azure-we:westeurope:");
        });
    }

    @Test
    void aMisspeltSettingIsRefusedByName() {
        assertThatThrownBy(() -> PoolsFile.read(new StringReader("pools:\n  p:\n    catalog: aws-eu-central-1\n    max-node: 3\n"), "p.yaml"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("p.yaml: pool p: unknown setting 'max-node'");
    }

    @Test
    void spotOfferingsOnlyWhenThePoolAllowsSpot() {
        List<SimulatedPool> pools = PoolsFile.read(new StringReader("""
                pools:
                  on-demand: {catalog: aws-eu-central-1, spot: false}
                  any: {catalog: aws-eu-central-1}
                """), "inline");

        assertThat(pools.get(0).offerings()).noneMatch(o -> o.spot());
        assertThat(pools.get(1).offerings()).anyMatch(o -> o.spot()).anyMatch(o -> !o.spot());
    }
}
