package dev.spillway.policies.rules;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.policies.document.SourceFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The starter set in {@code examples/policies/} compiles as one set, and says what its comments say. */
class ExamplePoliciesTest {

    static PolicySet starterSet() throws Exception {
        List<SourceFile> files = new ArrayList<>();
        try (Stream<Path> paths = Files.list(Path.of("..", "examples", "policies"))) {
            for (Path p : paths.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                files.add(new SourceFile(p.getFileName().toString(), Files.readString(p)));
            }
        }
        assertThat(files).extracting(SourceFile::name).contains("admission.yaml", "bursting.yaml", "residency.yaml", "research-cohort.yaml");
        CompileResult r = new PolicyCompiler().compile(files);
        assertThat(r.problems()).isEmpty();
        return r.policySet();
    }

    @Test
    void euDataStaysInTheEuAndTheResearchCohortSharesQuota() throws Exception {
        PolicySet set = starterSet();
        JobFacts reading = JobFacts.of("report", "marketing", 0, 1, new Resources(1000, 1024, 0)).withDatasets(List.of("customer-records"));
        assertThat(set.residency(reading).required()).isEqualTo(Set.of("EU"));
        assertThat(set.residency(JobFacts.of("any", "customer-analytics", 0, 1, Resources.ZERO)).because()).contains("tenant customer-analytics");
        assertThat(set.residency(JobFacts.of("any", "imaging", 0, 1, Resources.ZERO)).unrestricted()).isTrue();
        // Moving the customer records out of Frankfurt is metered by the WAN contract.
        assertThat(set.dataMove(reading, "site:lyon").usd()).isCloseTo(2 * 1.099511627776e3 * 0.01, org.assertj.core.data.Offset.offset(0.01));
        assertThat(set.dataMove(reading, "site:frankfurt")).isEqualTo(PolicySet.DataMove.NONE);

        assertThat(set.tenantQuotas()).extracting(q -> q.tenant() + " " + q.cohort()).contains("genomics research", "imaging research");
        assertThat(set.queues()).containsKey("imaging-interactive");
        assertThat(set.flavorOrder()).containsEntry("genomics", List.of("on-prem", "cloud"));
        assertThat(Map.copyOf(set.summary())).containsEntry("tenants", 3);
    }
}
