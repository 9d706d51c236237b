package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.ApplyPoliciesRequest;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.PolicyFile;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.PoolServiceGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The FinOps starter set's burst rules ({@code examples/policies/bursting.yaml}) on a real broker
 * with the local cloud: the sandbox tenant never bursts and says why; batch work bursts only onto
 * spot instances of the families the rule names, though a cheaper family would fit; work that
 * does not tolerate spot does not burst at priority under 500.
 */
class PolicyBurstIT {

    @Test
    void burstRulesDecideWhetherAndWhereWorkBursts() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("policy-burst", 1, "20s", o -> {
            ClusterFixture.withLocalCloud(o, 3, "60s");
            o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "1s");
        })) {
            Path home = Path.of(System.getProperty("spillway.home", "..")).toAbsolutePath();
            // The starter set as written, but batch work may burst after 1 s instead of 10 min (the test cannot wait).
            String rules = Files.readString(home.resolve("examples/policies/bursting.yaml")).replace("burstAfter: 10m", "burstAfter: 1s");
            PolicyServiceGrpc.newBlockingStub(fx.channel).applyPolicies(ApplyPoliciesRequest.newBuilder()
                    .addFiles(PolicyFile.newBuilder().setName("bursting.yaml").setText(rules)).build());
            var pools = PoolServiceGrpc.newBlockingStub(fx.channel);

            // On-prem (one agent, 2 cpus) is full with the sandbox's work; the rest of it waits, and says which rule keeps it home.
            String sandbox = fx.submit(tenant(ClusterFixture.spotJob(4, "sleep 300"), "sandbox", 0));
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(fx.job(sandbox).getJob().getPendingReason())
                    .contains("bursting/sandbox-stays-home: tenant sandbox does not burst"));
            assertThat(instances(pools)).isEmpty();

            // Batch work that does not tolerate spot cannot burst: the batch rule allows spot m6i and m5 only (the cheapest on-demand offering is named).
            String onDemand = fx.submit(tenant(ClusterFixture.shellJob(1, 1000, "sleep 300"), "batch", 0));
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(fx.job(onDemand).getJob().getPendingReason())
                    .contains("the policies refuse every cloud offering that fits")
                    .contains("bursting/batch-on-spot: "));
            assertThat(instances(pools)).isEmpty();

            // Spot-tolerant batch work bursts: onto spot m6i or m5 at most 0.20 USD/h, though t3.medium spot is cheaper for it.
            String batch = fx.submit(tenant(ClusterFixture.spotJob(2, "sleep 300"), "batch", 0));
            await().atMost(Duration.ofSeconds(60)).until(() -> !instances(pools).isEmpty());
            assertThat(instances(pools)).allSatisfy(i -> {
                assertThat(i.getSpot()).isTrue();
                assertThat(i.getInstanceType()).matches("(m6i|m5)\\..*");
                assertThat(dev.spillway.api.Usd.dollars(i.getPricePerHour())).isLessThanOrEqualTo(0.20);
            });
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(batch).getTasksList().stream()
                    .allMatch(t -> t.getNode().startsWith("aws-eu-")));
            assertThat(fx.job(sandbox).getTasksList().stream().filter(t -> !t.getNode().isEmpty()))
                    .allSatisfy(t -> assertThat(t.getNode()).isEqualTo("agent-1"));

            for (String id : List.of(sandbox, onDemand, batch)) fx.jobs.cancelJob(CancelJobRequest.newBuilder().setName(id).build());
        }
    }

    @Test
    void aTenantsSpendQuotaCapsWhatBurstingBuysForIt() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("spend-quota", 1, "20s", o -> {
            ClusterFixture.withLocalCloud(o, 4, "60s");
            o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "1s");
        })) {
            // research may spend $0.02/h in the cloud: a one-core task spends $0.0083/h on a t3.medium spot
            // instance ($0.0166/h for two cores), the cheapest that fits it; so two such tasks, and not three.
            PolicyServiceGrpc.newBlockingStub(fx.channel).applyPolicies(ApplyPoliciesRequest.newBuilder().addFiles(PolicyFile.newBuilder()
                    .setName("research.yaml").setText("""
                            apiVersion: spillway.dev/v1
                            kind: Tenant
                            metadata: {name: research}
                            spec:
                              quotas:
                                - flavor: on-prem
                                  resources: {cpu: {nominal: "2"}, memory: {nominal: 64Gi}}
                                - flavor: cloud
                                  resources: {cpu: {nominal: "100"}, memory: {nominal: 1Ti}, spendUsdPerHour: {nominal: "0.02"}}
                            """)).build());
            var pools = PoolServiceGrpc.newBlockingStub(fx.channel);

            // Two tasks fill on-prem (one agent, 2 cpus); of the four waiting, bursting buys for two: one instance.
            String job = fx.submit(tenant(ClusterFixture.spotJob(6, "sleep 300"), "research", 0));
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(job).getTasksList().stream()
                    .filter(t -> t.getNode().startsWith("aws-eu-")).count() == 2);
            assertThat(instances(pools)).singleElement().satisfies(i -> assertThat(i.getInstanceType()).isEqualTo("t3.medium"));
            // The last two wait, and say which quota keeps them from the cloud; nothing more is bought for them.
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(fx.job(job).getJob().getPendingReason())
                    .contains("spendUsdPerHour in flavor cloud"));
            await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(10)).until(() -> instances(pools).size() == 1);

            fx.jobs.cancelJob(CancelJobRequest.newBuilder().setName(job).build());
        }
    }

    private static JobSpec tenant(JobSpec spec, String tenant, int priority) {
        return spec.toBuilder().setTenant(tenant).setPriority(priority).build();
    }

    private static List<CloudInstance> instances(PoolServiceGrpc.PoolServiceBlockingStub pools) {
        return pools.listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesList();
    }
}
