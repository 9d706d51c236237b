package dev.spillway.policies.rules;

import static dev.spillway.policies.rules.Fixtures.NOW;
import static dev.spillway.policies.rules.Fixtures.compile;
import static dev.spillway.policies.rules.Fixtures.policy;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.policies.document.PolicyDoc;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AdmissionAndBurstTest {

    static final JobFacts GPU_JOB = JobFacts.of("train", "research", 5, 4, new Resources(8_000, 32_768, 1));

    @Test
    void admissionRulesDenyWarnAndAuditWithRenderedMessages() {
        PolicySet set = compile(policy("""
                  admission:
                    - name: gpu-needs-team
                      match: job.gpus > 0 && !("team" in job.labels)
                      message: '"GPU job " + job.name + " needs a team label"'
                      action: Deny
                    - name: over-budget
                      match: tenant.budgetState == "exceeded"
                      message: '"tenant " + tenant.name + " is over budget"'
                      action: Warn
                    - name: night
                      match: now.getHours("UTC") < 6
                      message: '"submitted at night"'
                      action: Audit
                """));
        TenantFacts overBudget = new TenantFacts("research", "", Map.of(), Map.of(), 100, 120, "exceeded");

        AdmissionResult r = set.admit(GPU_JOB, overBudget, NOW);
        AdmissionResult labelled = set.admit(GPU_JOB.withLabels(Map.of("team", "ml")), TenantFacts.named("research"),
                Instant.parse("2026-03-04T03:00:00Z"));

        assertThat(r.denied()).isTrue();
        assertThat(r.outcomes()).extracting(AdmissionOutcome::toString).containsExactly(
                "Deny p/gpu-needs-team: GPU job train needs a team label",
                "Warn p/over-budget: tenant research is over budget");
        assertThat(labelled.denied()).isFalse();
        assertThat(labelled.of(PolicyDoc.Action.AUDIT)).extracting(AdmissionOutcome::rule).containsExactly("night");
    }

    @Test
    void aMissingKeyIsAClearOutcomeNotAnException() {
        PolicySet set = compile(policy("""
                  admission:
                    - name: team-x
                      match: job.labels["team"] == "x"
                      message: '"x"'
                      action: Warn
                """));

        AdmissionResult r = set.admit(GPU_JOB, TenantFacts.named("research"), NOW);

        assertThat(r.outcomes()).singleElement().satisfies(o -> {
            assertThat(o.evaluationError()).isTrue();
            assertThat(o.action()).isEqualTo(PolicyDoc.Action.WARN);
            assertThat(o.message()).isEqualTo("rule could not be evaluated: policy.yaml:7:24: no such key: 'team'");
        });
    }

    @Test
    void residencyConflictsDenyAtAdmission() {
        PolicySet set = compile("""
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: research}
                spec: {jurisdictions: [EU]}
                ---
                apiVersion: spillway.dev/v1
                kind: Dataset
                metadata: {name: census}
                spec: {location: "site:boston", size: 10Gi, jurisdictions: [US]}
                """);

        AdmissionResult r = set.admit(GPU_JOB.withDatasets(List.of("census")), TenantFacts.named("research"), NOW);

        assertThat(r.denied()).isTrue();
        assertThat(r.outcomes().get(0).message()).isEqualTo(
                "no jurisdiction satisfies every requirement: tenant research [EU], dataset census [US]");
    }

    static Offering offering(String pool, String region, String jurisdiction, String type, boolean spot, double price) {
        return new Offering(Offering.id(pool, region + "a", type, spot), pool, region, region + "a", jurisdiction, type,
                new Resources(16_000, 65_536, 1), spot, price);
    }

    @Test
    void burstRulesLimitPoolsFamiliesSpotPriceWindowsAndSayWhy() {
        PolicySet set = compile("""
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: research}
                spec: {jurisdictions: [EU]}
                ---
                """ + policy("""
                  burst:
                    - name: research-spot
                      match: job.tenant == "research"
                      pools: [aws-eu]
                      instanceFamilies: [g5, p4d]
                      spotOnly: true
                      maxUsdPerHour: 3
                      burstAfter: 10m
                      windows: [{days: [Mon, Tue, Wed, Thu, Fri], from: "08:00", to: "20:00"}]
                    - name: no-big-gpus
                      deny: offering.gpus > 4 && job.priority < 10
                      message: '"no " + offering.instanceType + " for priority " + string(job.priority)'
                """));
        TenantFacts t = TenantFacts.named("research");

        assertThat(set.burst(GPU_JOB, t, offering("aws-eu", "eu-central-1", "EU", "g5.xlarge", true, 1.2), NOW).allowed()).isTrue();
        assertThat(set.burst(GPU_JOB, t, offering("aws-us", "us-east-1", "US", "g5.xlarge", true, 1.2), NOW))
                .isEqualTo(BurstVerdict.refused("residency",
                        "offering in US, outside the jurisdictions required by tenant research [EU]"));
        assertThat(set.burst(GPU_JOB, t, offering("aws-eu2", "eu-west-1", "EU", "g5.xlarge", true, 1.2), NOW).reason())
                .isEqualTo("pool aws-eu2 not among [aws-eu]");
        assertThat(set.burst(GPU_JOB, t, offering("aws-eu", "eu-central-1", "EU", "m6i.xlarge", true, 1.2), NOW).reason())
                .isEqualTo("instance family m6i not among [g5, p4d]");
        assertThat(set.burst(GPU_JOB, t, offering("aws-eu", "eu-central-1", "EU", "g5.xlarge", false, 1.2), NOW).reason())
                .isEqualTo("on-demand offering; the rule allows spot only");
        assertThat(set.burst(GPU_JOB, t, offering("aws-eu", "eu-central-1", "EU", "p4d.24xlarge", true, 9.8), NOW).reason())
                .isEqualTo("9.8000 USD/hour is above the rule's cap of 3.0000");
        BurstVerdict saturday = set.burst(GPU_JOB, t, offering("aws-eu", "eu-central-1", "EU", "g5.xlarge", true, 1.2),
                Instant.parse("2026-03-07T10:00:00Z"));
        assertThat(saturday).isEqualTo(BurstVerdict.refused("p/research-spot", "outside the rule's burst windows (UTC)"));
        Offering big = new Offering("x", "aws-eu", "eu-central-1", "eu-central-1a", "EU", "g5.48xlarge", new Resources(192_000, 786_432, 8),
                true, 2.9);
        assertThat(set.burst(GPU_JOB, t, big, NOW)).isEqualTo(BurstVerdict.refused("p/no-big-gpus", "no g5.48xlarge for priority 5"));
        assertThat(set.burstAfter(GPU_JOB, t, NOW)).contains(Duration.ofMinutes(10));
        assertThat(set.burstAfter(JobFacts.of("other", "ops", 0, 1, Resources.ZERO), TenantFacts.named("ops"), NOW)).isEmpty();
    }

    @Test
    void egressCostUsesTheAppliedTableThenTheBundledDefaults() {
        PolicySet set = compile("""
                apiVersion: spillway.dev/v1
                kind: EgressPrices
                metadata: {name: contract}
                spec:
                  prices:
                    - {from: "aws:eu-central-1", to: "site:lyon", usdPerGb: 0.05}
                    - {from: "site:paris", to: "*", usdPerGb: 0.01}
                """);
        EgressCost egress = set.egress();
        // A wildcard price is for moving data away: data where it is moves nowhere.
        assertThat(egress.usdPerGb("site:paris", "site:lyon")).isEqualTo(0.01);
        assertThat(egress.usdPerGb("site:paris", "site:paris")).isZero();

        assertThat(egress.usd(10_000_000_000L, "aws:eu-central-1", "site:lyon")).isEqualTo(0.5);
        assertThat(egress.usdPerGb("aws:eu-central-1", "aws:eu-central-1")).isZero();
        assertThat(egress.usdPerGb("aws:eu-central-1", "aws:us-east-1")).isEqualTo(0.02);
        assertThat(egress.usdPerGb("azure:westeurope", "site:lyon")).isEqualTo(0.087);
        assertThat(egress.usdPerGb("site:lyon", "aws:eu-central-1")).isZero();
        assertThat(EgressCost.DEFAULTS.usdPerGb("aws:eu-central-1", "site:lyon")).isEqualTo(0.09);
    }
}
