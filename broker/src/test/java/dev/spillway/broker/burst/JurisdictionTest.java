package dev.spillway.broker.burst;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Default jurisdictions of cloud regions, when a pool does not set one. */
class JurisdictionTest {

    @Test
    void europeanAndAmericanRegionsOfBothCloudsAndTheRestByName() {
        assertThat(CloudPools.jurisdictionOf("eu-central-1")).isEqualTo("EU");
        assertThat(CloudPools.jurisdictionOf("westeurope")).isEqualTo("EU");
        assertThat(CloudPools.jurisdictionOf("us-east-1")).isEqualTo("US");
        assertThat(CloudPools.jurisdictionOf("eastus")).isEqualTo("US");
        assertThat(CloudPools.jurisdictionOf("westus2")).isEqualTo("US");
        assertThat(CloudPools.jurisdictionOf("ca-central-1")).isEqualTo("ca-central-1");
        assertThat(CloudPools.jurisdictionOf("australiaeast")).isEqualTo("australiaeast");
    }
}
