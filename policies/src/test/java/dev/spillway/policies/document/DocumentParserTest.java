package dev.spillway.policies.document;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class DocumentParserTest {

    static final String TENANT = """
            apiVersion: spillway.dev/v1
            kind: Tenant
            metadata:
              name: research
            spec:
              cohort: science
              weight: 2
              reclaimWithinCohort: LowerPriority
              jurisdictions: [EU]
              quotas:
                - flavor: on-prem
                  resources:
                    cpu: {nominal: "64", borrowingLimit: "32", lendingLimit: 500m}
                    memory: {nominal: 256Gi}
                    gpu: {nominal: 4}
            ---
            apiVersion: spillway.dev/v1
            kind: Queue
            metadata: {name: research-batch}
            spec: {tenant: research, defaultPriority: 10}
            """;

    @Test
    void readsTenantsAndQueuesFromOneFile() {
        ParseResult r = DocumentParser.parse("tenants.yaml", TENANT);

        assertThat(r.problems()).isEmpty();
        assertThat(r.documents()).hasSize(2);
        TenantDoc t = (TenantDoc) r.documents().get(0);
        assertThat(t.name()).isEqualTo("research");
        assertThat(t.cohort()).isEqualTo("science");
        assertThat(t.weight()).isEqualTo(2.0);
        assertThat(t.reclaimWithinCohort()).isEqualTo(TenantDoc.Reclaim.LOWER_PRIORITY);
        assertThat(t.jurisdictions()).containsExactly("EU");
        FlavorQuota q = t.quotas().get(0);
        assertThat(q.flavor()).isEqualTo("on-prem");
        assertThat(q.resources().get(FlavorQuota.Resource.CPU)).isEqualTo(new ResourceQuota(64_000, 32_000L, 500L));
        assertThat(q.resources().get(FlavorQuota.Resource.MEMORY)).isEqualTo(new ResourceQuota(256 * 1024, null, null));
        assertThat(q.resources().get(FlavorQuota.Resource.GPU).nominal()).isEqualTo(4);
        QueueDoc queue = (QueueDoc) r.documents().get(1);
        assertThat(queue.tenant()).isEqualTo("research");
        assertThat(queue.defaultPriority()).isEqualTo(10);
        assertThat(queue.at()).isEqualTo(new Location("tenants.yaml", 17, 1));
    }

    @Test
    void aQuotaOnCloudSpendIsWrittenInDollarsPerHour() {
        ParseResult r = DocumentParser.parse("spend.yaml", """
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: research}
                spec:
                  quotas:
                    - flavor: cloud
                      resources:
                        cpu: {nominal: "64"}
                        spendUsdPerHour: {nominal: "12.50"}
                """);

        assertThat(r.problems()).isEmpty();
        FlavorQuota q = ((TenantDoc) r.documents().get(0)).quotas().get(0);
        assertThat(q.resources().get(FlavorQuota.Resource.SPEND)).isEqualTo(new ResourceQuota(12_500_000, null, null));

        ParseResult bad = DocumentParser.parse("spend.yaml", """
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: research}
                spec:
                  quotas:
                    - flavor: cloud
                      resources:
                        spendUsdPerHour: {nominal: "$5"}
                    - flavor: aws-eu
                      resources:
                        spendUsdPerHour: {nominal: 0.1234567}
                """);
        assertThat(bad.problems()).extracting(Problem::toString).containsExactly(
                "spend.yaml:8:36: 'nominal' for spendUsdPerHour must be US dollars per hour like 20 or 12.50, not '$5'",
                "spend.yaml:11:36: 'nominal' for spendUsdPerHour must be US dollars per hour like 20 or 12.50, not '0.1234567'");
    }

    @Test
    void yamlSyntaxErrorsNameLineAndColumn() {
        ParseResult r = DocumentParser.parse("broken.yaml", """
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata:
                  name: [unclosed
                """);

        assertThat(r.ok()).isFalse();
        assertThat(r.documents()).isEmpty();
        assertThat(r.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo("broken.yaml");
            assertThat(p.line()).isEqualTo(5);
            assertThat(p.message()).startsWith("invalid YAML");
        });
    }

    @Test
    void everyShapeProblemIsReportedWithItsPlace() {
        ParseResult r = DocumentParser.parse("t.yaml", """
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: research}
                spec:
                  wieght: 2
                  reclaimWithinCohort: Sometimes
                  quotas:
                    - flavor: on-prem
                      resources:
                        cpu: {nominal: lots}
                        memory: {nominal: 1Gi, lendingLimit: 2Gi}
                ---
                apiVersion: spillway.dev/v1
                kind: Queue
                metadata: {name: Bad_Name}
                spec: {tenant: nobody}
                """);

        assertThat(r.problems()).extracting(Problem::toString).containsExactlyInAnyOrder(
                "t.yaml:5:3: unknown key 'wieght'; expected one of cohort, jurisdictions, quotas, reclaimWithinCohort, weight",
                "t.yaml:6:24: reclaimWithinCohort must be Never, LowerPriority or Any, not 'Sometimes'",
                "t.yaml:10:24: 'nominal' for cpu must be cores like 4 or 0.5, or millicores like 500m, not 'lots'",
                "t.yaml:11:46: lendingLimit (2048) exceeds nominal (1024)",
                "t.yaml:11:46: borrowingLimit and lendingLimit need a cohort to borrow from and lend to; set spec.cohort",
                "t.yaml:15:18: 'name' must be lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit: 'Bad_Name'");
        assertThat(r.documents()).isEmpty();
    }

    @Test
    void referencesAndDuplicatesAreCheckedAcrossFiles() {
        ParseResult r = DocumentParser.parse(List.of(
                new SourceFile("a.yaml", TENANT),
                new SourceFile("b.yaml", """
                        apiVersion: spillway.dev/v1
                        kind: Tenant
                        metadata: {name: research}
                        ---
                        apiVersion: spillway.dev/v1
                        kind: Queue
                        metadata: {name: orphan}
                        spec: {tenant: nobody}
                        """)));

        assertThat(r.problems()).extracting(Problem::toString).containsExactly(
                "b.yaml:1:1: Tenant 'research' is defined twice (first at a.yaml:1:1)",
                "b.yaml:5:1: Queue 'orphan' names tenant 'nobody', which is not defined");
    }

    @Test
    void wrongApiVersionAndUnknownKindAreRefused() {
        ParseResult r = DocumentParser.parse("k.yaml", """
                apiVersion: spillway.dev/v2
                kind: Tenant
                metadata: {name: a}
                ---
                apiVersion: spillway.dev/v1
                kind: Budget
                metadata: {name: b}
                """);

        assertThat(r.problems()).extracting(Problem::toString).containsExactly(
                "k.yaml:1:13: apiVersion must be spillway.dev/v1, not 'spillway.dev/v2'",
                "k.yaml:6:7: unknown kind 'Budget'; expected Tenant, Queue, Policy, Dataset or EgressPrices");
    }

    @Test
    void datasetsAndEgressPrices() {
        ParseResult r = DocumentParser.parse("d.yaml", """
                apiVersion: spillway.dev/v1
                kind: Dataset
                metadata: {name: genomes}
                spec: {location: "aws:eu-central-1", size: 2Ti, jurisdictions: [EU]}
                ---
                apiVersion: spillway.dev/v1
                kind: EgressPrices
                metadata: {name: contract}
                spec:
                  prices:
                    - {from: "site:lyon", to: "*", usdPerGb: 0.01}
                    - {from: "aws:eu-central-1", to: "site:lyon", usdPerGb: 0.05}
                """);

        assertThat(r.problems()).isEmpty();
        DatasetDoc d = (DatasetDoc) r.documents().get(0);
        assertThat(d.sizeBytes()).isEqualTo(2L << 40);
        assertThat(d.location()).isEqualTo("aws:eu-central-1");
        EgressPricesDoc e = (EgressPricesDoc) r.documents().get(1);
        assertThat(e.prices()).contains(new EgressPricesDoc.Price("site:lyon", "*", 0.01));
    }

    @Test
    void policyRulesKeepTheirExpressionsAndPlaces() {
        ParseResult r = DocumentParser.parse("p.yaml", """
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: finops}
                spec:
                  admission:
                    - name: big
                      match: >
                        job.tasks >
                        1000
                      message: '"too many tasks"'
                      action: Warn
                  burst:
                    - name: cheap
                      spotOnly: true
                      maxUsdPerHour: 2.5
                      burstAfter: 10m
                      windows: [{days: [Sat, Sun], from: "22:00", to: "06:00"}]
                """);

        assertThat(r.problems()).isEmpty();
        PolicyDoc p = (PolicyDoc) r.documents().get(0);
        Expression match = p.admission().get(0).match();
        assertThat(match.text()).isEqualTo("job.tasks > 1000\n");
        // "1000" sits on line 9, column 9 of the file, at offset 12 of the folded expression
        assertThat(match.locateOffset(12)).isEqualTo(new Location("p.yaml", 9, 9));
        assertThat(match.locate(1, 4)).isEqualTo(new Location("p.yaml", 8, 13));
        PolicyDoc.BurstRule b = p.burst().get(0);
        assertThat(b.spotOnly()).isTrue();
        assertThat(b.maxUsdPerHour()).isEqualTo(2.5);
        assertThat(b.burstAfter()).hasMinutes(10);
        PolicyDoc.TimeWindow w = b.windows().get(0);
        assertThat(w.contains(java.time.DayOfWeek.SUNDAY, java.time.LocalTime.of(23, 0))).isTrue();
        assertThat(w.contains(java.time.DayOfWeek.MONDAY, java.time.LocalTime.of(5, 0))).isTrue(); // Sunday's night
        assertThat(w.contains(java.time.DayOfWeek.SATURDAY, java.time.LocalTime.of(5, 0))).isFalse(); // Friday's night
        assertThat(w.contains(java.time.DayOfWeek.SATURDAY, java.time.LocalTime.of(12, 0))).isFalse();
    }

    @Test
    void anAliasBombIsRefusedWithAMessageNotExpanded() {
        StringBuilder yaml = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 30; i++) {
            yaml.append("a").append(i).append(": &a").append(i).append(" [*a").append(i - 1).append(", *a").append(i - 1).append(", *a")
                    .append(i - 1).append("]\n");
        }

        ParseResult r = DocumentParser.parse("bomb.yaml", yaml.toString());

        assertThat(r.ok()).isFalse();
        assertThat(r.problems().get(0).message()).startsWith("invalid YAML").containsIgnoringCase("alias");
    }

    @Test
    void emptyExpressionsAndNonMappingsAreReported() {
        ParseResult r = DocumentParser.parse("e.yaml", """
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: p}
                spec:
                  admission:
                    - name: r
                      match:
                      message: '"m"'
                      action: Deny
                    - just a string
                """);

        assertThat(r.problems()).extracting(Problem::toString).containsExactlyInAnyOrder(
                "e.yaml:7:13: 'match' must not be empty",
                "e.yaml:10:7: each item of 'admission' must be a mapping");
    }
}
