package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.Budget;
import dev.spillway.api.v1.BudgetServiceGrpc;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.GetBudgetRequest;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.SetBudgetRequest;
import dev.spillway.api.v1.TaskState;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Budgets on a real broker with the local cloud, spending measured by the ledger (on-prem work priced by the rate card):
 * a soft budget alerts at 80 %; a tenant whose hard budget is spent (by work it started before the budget was set) has
 * new jobs refused with the figures and gets no new cloud capacity for its waiting one, which says why; another
 * tenant's work bursts from the same broker meanwhile.
 */
class BudgetBurstIT {

    @Test
    void aTenantWhoseHardBudgetIsSpentGetsNoNewCloudCapacity() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("budget-burst", 1, "20s", o -> {
            ClusterFixture.withLocalCloud(o, 3, "60s");
            o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "8s");
            // A core-second on-prem costs a dollar here, so that spending is quick to see.
            o.brokerProperties.put("spillway.cost.rate-card.usd-per-cpu-hour", "3600");
            o.brokerProperties.put("spillway.cost.budget-every", "500ms");
        })) {
            // spender's work fills the agent (2 cpus) and spends 2 USD a second; its second job fits no node and waits to burst.
            String running = fx.submit(ClusterFixture.shellJob(2, 1000, "sleep 120").toBuilder().setTenant("spender").build());
            // It fits the agent once that is free, so it waits the pool's 8 s before it may burst: by then the budget below is booked.
            JobSpec big = ClusterFixture.spotJob(1, "sleep 120");
            big = big.toBuilder().setTenant("spender").setTask(big.getTask().toBuilder()
                    .setResources(big.getTask().getResources().toBuilder().setCpuMillis(2000))).build();
            String waiting = fx.submit(big);
            await().atMost(Duration.ofSeconds(30)).until(() -> fx.job(running).getTasksList().stream()
                    .allMatch(t -> t.getState() == TaskState.TASK_STATE_RUNNING));

            // FinOps sets a hard budget of 1 USD: the keeper finds it spent within a second.
            var budgets = BudgetServiceGrpc.newBlockingStub(fx.channel);
            budgets.setBudget(SetBudgetRequest.newBuilder().setBudget(Budget.newBuilder().setName("spender-monthly").setTenant("spender")
                    .setLimit(dev.spillway.api.Usd.ofMicros(1_000_000)).setHard(true).setOnPrem(true)).build());
            await().atMost(Duration.ofSeconds(20)).until(() -> budgets.getBudget(GetBudgetRequest.newBuilder().setName("spender-monthly").build())
                    .getSpent().getUnits() >= 1);

            // A new job of spender's is refused at admission, with the figures, and nothing is stored.
            JobSpec.Builder late = ClusterFixture.shellJob(1, 1000, "true").toBuilder().setTenant("spender");
            late.getTaskBuilder().setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(60));
            int before = fx.jobs.listJobs(dev.spillway.api.v1.ListJobsRequest.newBuilder().setPageSize(1000).build()).getJobsCount();
            io.grpc.StatusRuntimeException refused = org.assertj.core.api.Assertions.catchThrowableOfType(io.grpc.StatusRuntimeException.class,
                    () -> fx.submit(late.build()));
            assertThat(refused.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.FAILED_PRECONDITION);
            assertThat(refused.getStatus().getDescription()).contains("the job may cost up to ").contains("hard budget spender-monthly of tenant spender has 0.00 USD left of 1.00")
                    .contains("nothing was stored");
            assertThat(fx.jobs.listJobs(dev.spillway.api.v1.ListJobsRequest.newBuilder().setPageSize(1000).build()).getJobsCount()).isEqualTo(before);

            // Another tenant's job that fits no node bursts, past the pool's 8 s.
            JobSpec other = ClusterFixture.spotJob(1, "sleep 120");
            other = other.toBuilder().setTenant("free").setTask(other.getTask().toBuilder()
                    .setResources(other.getTask().getResources().toBuilder().setCpuMillis(3000))).build();
            String free = fx.submit(other);
            await().atMost(Duration.ofSeconds(90)).until(() -> fx.job(free).getTasksList().stream()
                    .allMatch(t -> t.getState() == TaskState.TASK_STATE_RUNNING && t.getNode().startsWith("aws-eu-")));

            // spender's waiting job, queued for longer than the burst delay, bought nothing, and says why.
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(fx.job(waiting).getJob().getPendingReason())
                    .contains("budget: hard budget spender-monthly of tenant spender is spent"));
            var job = fx.job(waiting);
            assertThat(job.getTasksList()).allSatisfy(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_STATE_QUEUED));
            assertThat(PoolServiceGrpc.newBlockingStub(fx.channel).listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesList())
                    .as("one instance, for the other tenant's job").hasSize(1);

            long softLimit = (budgets.getBudget(GetBudgetRequest.newBuilder().setName("budgets/spender-monthly").build()).getSpent().getUnits()
                    + 6) * 1_000_000; // 6 USD more than spent, in whole dollars: 80 % is a couple of seconds away
            // A soft budget for the same tenant, above what it has spent so far, alerts once its spending passes 80 %.
            var soft = BudgetServiceGrpc.newBlockingStub(fx.channel);
            soft.setBudget(SetBudgetRequest.newBuilder().setBudget(Budget.newBuilder().setName("spender-soft").setTenant("spender")
                    .setLimit(dev.spillway.api.Usd.ofMicros(softLimit)).setHard(false).setOnPrem(true).addAlerts(80)).build());
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(soft.getBudget(GetBudgetRequest.newBuilder()
                    .setName("spender-soft").build()).getEventsList()).singleElement().satisfies(e -> {
                        assertThat(e.getKind()).isEqualTo(dev.spillway.api.v1.BudgetEventKind.BUDGET_EVENT_KIND_ALERT);
                        assertThat(e.getThresholdPercent()).isEqualTo(80);
                        assertThat(e.getMessage()).contains("tenant spender has spent").contains("of its soft budget spender-soft (" + softLimit / 1_000_000 + ".00 USD");
                    }));

            for (String id : List.of(running, waiting, free)) fx.jobs.cancelJob(CancelJobRequest.newBuilder().setName(id).build());
        }
    }
}
