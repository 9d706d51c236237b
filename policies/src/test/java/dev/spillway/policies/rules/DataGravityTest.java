package dev.spillway.policies.rules;

import static dev.spillway.policies.rules.Fixtures.NOW;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Data gravity: a job goes where its data is, when moving the data would cost more than the preference for on-prem is worth. */
class DataGravityTest {

    private static final PolicySet SET = Fixtures.compile("""
            apiVersion: spillway.dev/v1
            kind: Dataset
            metadata: {name: genomes-2026}
            spec: {location: "aws:eu-central-1", size: 5Ti}
            ---
            apiVersion: spillway.dev/v1
            kind: Dataset
            metadata: {name: lab-notes}
            spec: {location: "site:lyon", size: 20Gi}
            """);

    private static final Map<String, PoolFacts> POOLS = Map.of(
            "lyon", new PoolFacts("lyon", "on-prem", "", "EU", 0),
            "aws-eu", new PoolFacts("aws-eu", "aws", "eu-central-1", "EU", 0.192));

    private static JobFacts job(String... datasets) {
        return JobFacts.of("align", "research", 0, 1, new Resources(1000, 1024, 0)).withDatasets(List.of(datasets));
    }

    @Test
    void movingADatasetIsPricedFromItsLocationToTheNodes() {
        // 5 TiB out of AWS to a site: 5,497.6 GB at AWS's list 0.09 USD/GB.
        PolicySet.DataMove toSite = SET.dataMove(job("genomes-2026"), "site:lyon");
        assertThat(toSite.usd()).isCloseTo(494.78, org.assertj.core.data.Offset.offset(0.01));
        assertThat(toSite.description()).isEqualTo("494.78 USD egress for 5497.6 GB of genomes-2026 from aws:eu-central-1");
        assertThat(SET.dataMove(job("genomes-2026"), "aws:eu-central-1")).isEqualTo(PolicySet.DataMove.NONE);
        // Out of an on-prem site nothing is metered per byte.
        assertThat(SET.dataMove(job("lab-notes"), "aws:eu-central-1")).isEqualTo(PolicySet.DataMove.NONE);
        assertThat(POOLS.get("lyon").location(null)).isEqualTo("site:lyon");
        assertThat(POOLS.get("lyon").location("paris-2")).isEqualTo("site:paris-2");
        assertThat(POOLS.get("aws-eu").location(null)).isEqualTo("aws:eu-central-1");
    }

    @Test
    void aDatasetHeavyJobGoesToTheCloudNodeWhereItsDataIsThoughOnPremComesFirstOtherwise() {
        NodeView onPrem = new NodeView("lyon-1", "lyon", new Resources(8000, 16384, 0), Resources.ZERO, Map.of(), true);
        NodeView cloud = new NodeView("aws-eu-1", "aws-eu", new Resources(8000, 16384, 0), Resources.ZERO, Map.of(Scorers.CLOUD_LABEL, "true"), true);
        for (String datasets : List.of("genomes-2026", "")) {
            JobFacts job = datasets.isEmpty() ? job() : job(datasets);
            PlacementRules rules = SET.placement(new PlacementContext(NOW, s -> job, TenantFacts::named, POOLS));
            TaskShape shape = new TaskShape(new Resources(1000, 1024, 0), Map.of(), Set.of()).withFacts("align");
            Plan plan = Scheduler.standard(8, List.of(rules.filter()), rules.scorers())
                    .plan(new Snapshot(List.of(onPrem, cloud), List.of(new PendingTask(new TaskRef("align", 0, 0), shape, 0, 0))));
            assertThat(plan.placements()).singleElement().satisfies(p -> assertThat(p.node())
                    .as("datasets %s", datasets).isEqualTo(datasets.isEmpty() ? "lyon-1" : "aws-eu-1"));
        }
    }

    @Test
    void burstingBuysWhereTheDataIsWhenMovingItWouldCostMoreThanTheComputeSavesAndFallsBackWhenThatPoolIsFull() {
        var aws = new dev.spillway.core.burst.Offering("aws-eu:eu-central-1a:m6i.large:on-demand", "aws-eu", "eu-central-1", "eu-central-1a", "EU",
                "m6i.large", new Resources(2000, 8192, 0), false, 0.096);
        var azure = new dev.spillway.core.burst.Offering("azure-we:1:Standard_D2s_v5:on-demand", "azure-we", "westeurope", "1", "EU",
                "Standard_D2s_v5", new Resources(2000, 8192, 0), false, 0.05);
        java.util.function.Function<dev.spillway.core.burst.Offering, String> place = o -> o.pool().startsWith("aws") ? "aws:" + o.region()
                : "azure:" + o.region();
        Resources task = new Resources(1000, 1024, 0);

        // 5 TiB in AWS eu-central-1: Azure's instance is cheaper, but its first hour with the data moved costs 494.83 USD.
        var refused = SET.gravityRefusals(job("genomes-2026"), task, List.of(aws, azure), place, Set.of("aws-eu", "azure-we"));
        assertThat(refused).containsOnlyKeys(azure.id());
        assertThat(refused.get(azure.id())).isEqualTo("data-gravity: 494.78 USD egress for 5497.6 GB of genomes-2026 from aws:eu-central-1; "
                + "a first hour in azure:westeurope costs 494.83 USD with it, against 0.10 USD in aws:eu-central-1");
        // The AWS pool at its limits: the job may still burst to Azure.
        assertThat(SET.gravityRefusals(job("genomes-2026"), task, List.of(aws, azure), place, Set.of("azure-we"))).isEmpty();
        // Without datasets, or with data that moves for free out of a site, the cheapest instance wins as before.
        assertThat(SET.gravityRefusals(job(), task, List.of(aws, azure), place, Set.of("aws-eu", "azure-we"))).isEmpty();
        assertThat(SET.gravityRefusals(job("lab-notes"), task, List.of(aws, azure), place, Set.of("aws-eu", "azure-we"))).isEmpty();
    }
}
