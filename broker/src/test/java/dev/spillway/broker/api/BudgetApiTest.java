package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.rpc.ErrorInfo;
import dev.spillway.api.v1.Budget;
import dev.spillway.api.v1.BudgetServiceGrpc;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.GetBudgetRequest;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListBudgetsRequest;
import dev.spillway.api.v1.SetBudgetRequest;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.broker.cost.Budgets;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.net.URL;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Budgets over the real API and PostgreSQL. On-prem work costs 1 USD a core-hour here and no node is connected, so a
 * one-core task with a 36 s wall-time limit is quoted 0.01 USD at most: a hard budget of 0.10 admits ten such jobs,
 * however many clients race for it. The keeper (run by the tests; its timer is an hour away) releases what ended jobs
 * held, and a soft budget alerts.
 */
@QuarkusTest
@TestProfile(BudgetApiTest.PricedOnPrem.class)
class BudgetApiTest {

    public static class PricedOnPrem implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("spillway.cost.rate-card.usd-per-cpu-hour", "1.0", "spillway.cost.budget-every", "1h",
                    "spillway.cost.close-every", "1h", "spillway.limits.submit-rate", "100000", "spillway.limits.submit-burst", "100000");
        }
    }

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    Pool pool;

    @Inject
    Budgets budgets;

    private final String run = UUID.randomUUID().toString().substring(0, 8);
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<String> submitted = new ArrayList<>();
    private JobServiceGrpc.JobServiceBlockingStub admin;

    private ManagedChannel as(String tenant, Role role) {
        ManagedChannel c = TestCallers.channel(url, TestCallers.key(keys, tenant, role));
        channels.add(c);
        return c;
    }

    @AfterEach
    void close() {
        if (admin != null) submitted.forEach(id -> admin.cancelJob(CancelJobRequest.newBuilder().setName(id).build()));
        channels.forEach(ManagedChannel::shutdownNow);
    }

    private static JobSpec centJob(String tenant) {
        JobSpec.Builder spec = JobApiTest.valid().toBuilder().setTenant(tenant).setTaskCount(1);
        spec.getTaskBuilder().setResources(dev.spillway.api.v1.Resources.newBuilder().setCpuMillis(1000).setMemoryMib(128))
                .setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(36));
        return spec.build();
    }

    private Budget set(String name, String tenant, long limitMicroUsd, boolean hard, boolean onPrem) {
        return BudgetServiceGrpc.newBlockingStub(as("default", Role.FINOPS)).setBudget(SetBudgetRequest.newBuilder().setBudget(Budget.newBuilder()
                .setName(name).setTenant(tenant).setLimit(dev.spillway.api.Usd.ofMicros(limitMicroUsd)).setHard(hard).setOnPrem(onPrem)).build());
    }

    @Test
    void thirtyTwoClientsRacingForAHardBudgetNeverReserveMoreThanItAndTheRestAreRefusedWithTheFigures() throws Exception {
        String tenant = "race-" + run;
        set("race-" + run, tenant, 100_000, true, true);
        admin = JobServiceGrpc.newBlockingStub(as("default", Role.ADMIN));
        ManagedChannel channel = as(tenant, Role.SUBMITTER);
        ConcurrentLinkedQueue<String> accepted = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<StatusRuntimeException> refused = new ConcurrentLinkedQueue<>();
        ExecutorService clients = Executors.newFixedThreadPool(32);
        CountDownLatch go = new CountDownLatch(1);
        for (int c = 0; c < 32; c++) {
            clients.submit(() -> {
                var jobs = JobServiceGrpc.newBlockingStub(channel);
                go.await();
                for (int i = 0; i < 5; i++) {
                    try {
                        Job r = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(centJob(tenant)).build());
                        accepted.add(r.getUid());
                    } catch (StatusRuntimeException e) {
                        refused.add(e);
                    }
                }
                return null;
            });
        }
        go.countDown();
        clients.shutdown();
        assertThat(clients.awaitTermination(120, TimeUnit.SECONDS)).isTrue();
        submitted.addAll(accepted);

        assertThat(accepted).as("0.10 holds ten jobs of 0.01").hasSize(10);
        assertThat(refused).hasSize(150).allSatisfy(e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(StatusProto.fromThrowable(e).getDetailsList()).anySatisfy(a -> assertThat(a.unpack(ErrorInfo.class).getReason())
                    .isEqualTo("BUDGET_EXCEEDED"));
        });
        assertThat(refused.peek().getStatus().getDescription()).contains("the job may cost up to 0.01 USD, and hard budget race-" + run)
                .contains("has 0.00 USD left of 0.10 (spent 0.00, reserved 0.10) until ").contains("nothing was stored");
        Row period = row("SELECT * FROM budget_period WHERE budget = $1", "race-" + run);
        assertThat(period.getLong("reserved_micro_usd")).isEqualTo(100_000).isLessThanOrEqualTo(period.getLong("limit_micro_usd"));
        assertThat(row("SELECT coalesce(sum(amount_micro_usd), 0) AS s, count(*) AS n FROM budget_reservation WHERE budget = $1", "race-" + run)
                .getLong("s")).isEqualTo(100_000);
        assertThat(row("SELECT count(*) AS n FROM job WHERE tenant = $1", tenant).getLong("n")).as("nothing stored for a refused job").isEqualTo(10);

        // A job that ends gives back what it held: the keeper releases it, and one more job fits.
        admin.cancelJob(CancelJobRequest.newBuilder().setName(accepted.peek()).build());
        budgets.keep();
        assertThat(row("SELECT * FROM budget_period WHERE budget = $1", "race-" + run).getLong("reserved_micro_usd")).isEqualTo(90_000);
        assertThat(row("SELECT remaining_micro_usd FROM budget_reservation WHERE job_id = $1", UUID.fromString(accepted.peek()))
                .getLong("remaining_micro_usd")).isZero();
        submitted.add(JobServiceGrpc.newBlockingStub(channel).submitJob(SubmitJobRequest.newBuilder().setSpec(centJob(tenant)).build()).getUid());

        // Under a hard budget a job must be bounded.
        JobSpec.Builder unbounded = centJob(tenant).toBuilder();
        unbounded.getTaskBuilder().clearMaxRuntime();
        StatusRuntimeException noBound = catchThrowableOfType(StatusRuntimeException.class,
                () -> JobServiceGrpc.newBlockingStub(channel).submitJob(SubmitJobRequest.newBuilder().setSpec(unbounded).build()));
        assertThat(noBound.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(noBound.getStatus().getDescription()).contains("spec.task.max_runtime").contains("hard budget");
    }

    /** AIP-203: what a client sets of the output-only figures is ignored; what it leaves out that is required is refused by path. */
    @Test
    void outputOnlyFiguresAClientSendsAreIgnoredAndRequiredOnesRefusedByPath() {
        var finops = BudgetServiceGrpc.newBlockingStub(as("default", Role.FINOPS));
        Budget stored = finops.setBudget(SetBudgetRequest.newBuilder().setBudget(Budget.newBuilder().setName("budgets/made-up-" + run).setTenant("made-up-" + run)
                .setLimit(dev.spillway.api.Usd.ofMicros(5_000_000)).setSpent(dev.spillway.api.Usd.ofMicros(4_000_000))
                .setForecast(dev.spillway.api.Usd.ofMicros(9_000_000)).addEvents(dev.spillway.api.v1.BudgetEvent.newBuilder().setMessage("made up"))).build());
        assertThat(stored.getName()).isEqualTo("budgets/made-up-" + run);
        assertThat(dev.spillway.api.Usd.micros(stored.getSpent())).as("nothing was spent").isZero();
        assertThat(stored.getEventsList()).isEmpty();
        StatusRuntimeException missing = catchThrowableOfType(StatusRuntimeException.class, () -> finops.setBudget(SetBudgetRequest.newBuilder()
                .setBudget(Budget.newBuilder().setName("no-limit-" + run)).build()));
        assertThat(missing.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(AccessTest.Spillways.violations(missing)).containsExactlyInAnyOrder("budget.tenant", "budget.limit");
        assertThat(catchThrowableOfType(StatusRuntimeException.class, () -> finops.getBudget(GetBudgetRequest.newBuilder().setName("no-limit-" + run).build()))
                .getStatus().getCode()).as("nothing was stored").isEqualTo(Status.Code.NOT_FOUND);
    }

    @Test
    void aSoftBudgetAdmitsAndAlertsAtEightyPercentAndTenantsReadOnlyTheirOwn() {
        String tenant = "soft-" + run;
        set("soft-" + run, tenant, 10_000, false, true);
        // 1 core for 29 s on-prem at 1 USD a core-hour: 0.00806, 81 % of 0.01.
        Instant now = Instant.now();
        exec("""
                INSERT INTO attempt_usage (job_id, idx, attempt, tenant, node, pool, cpu_millis, memory_mib, gpus, started_at, ended_at)
                VALUES ($1, 0, 1, $2, 'rack-1', 'rack', 1000, 0, 0, $3, $4)""",
                Tuple.from(Arrays.asList(UUID.randomUUID(), tenant, now.minusSeconds(40).atOffset(ZoneOffset.UTC), now.minusSeconds(11).atOffset(ZoneOffset.UTC))));
        budgets.keep();

        var reader = BudgetServiceGrpc.newBlockingStub(as(tenant, Role.VIEWER));
        Budget b = reader.getBudget(GetBudgetRequest.newBuilder().setName("soft-" + run).build());
        assertThat(dev.spillway.api.Usd.micros(b.getSpent())).isBetween(8_000L, 8_100L);
        assertThat(dev.spillway.api.Usd.micros(b.getForecast())).isGreaterThanOrEqualTo(dev.spillway.api.Usd.micros(b.getSpent()));
        assertThat(b.getEventsList()).singleElement().satisfies(e -> {
            assertThat(e.getKind()).isEqualTo(dev.spillway.api.v1.BudgetEventKind.BUDGET_EVENT_KIND_ALERT);
            assertThat(e.getThresholdPercent()).isEqualTo(80);
            assertThat(e.getMessage()).contains("tenant " + tenant + " has spent 0.00").contains("soft budget soft-" + run).endsWith(": 80 %");
        });
        budgets.keep();
        assertThat(reader.getBudget(GetBudgetRequest.newBuilder().setName("budgets/soft-" + run).build()).getEventsList()).as("alerted once").hasSize(1);
        // A soft budget never refuses: a job that would take it past its limit is admitted.
        admin = JobServiceGrpc.newBlockingStub(as("default", Role.ADMIN));
        submitted.add(JobServiceGrpc.newBlockingStub(as(tenant, Role.SUBMITTER)).submitJob(SubmitJobRequest.newBuilder().setSpec(centJob(tenant)).build())
                .getUid());

        // Another tenant's budget is not there for this reader; only finops and admin set budgets.
        String other = "other-" + run;
        set("other-" + run, other, 1_000_000, true, false);
        StatusRuntimeException notFound = catchThrowableOfType(StatusRuntimeException.class,
                () -> reader.getBudget(GetBudgetRequest.newBuilder().setName("other-" + run).build()));
        assertThat(notFound.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(reader.listBudgets(ListBudgetsRequest.getDefaultInstance()).getBudgetsList()).extracting(Budget::getName).containsExactly("budgets/soft-" + run);
        assertThat(reader.listBudgets(ListBudgetsRequest.newBuilder().setFilter("tenant = " + other).build()).getBudgetsList())
                .as("a filter naming another tenant finds nothing of it").isEmpty();
        StatusRuntimeException write = catchThrowableOfType(StatusRuntimeException.class, () -> BudgetServiceGrpc.newBlockingStub(as(tenant, Role.SUBMITTER))
                .setBudget(SetBudgetRequest.newBuilder().setBudget(Budget.newBuilder().setName("mine-" + run).setTenant(tenant).setLimit(dev.spillway.api.Usd.ofMicros(1))).build()));
        assertThat(write.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        StatusRuntimeException bad = catchThrowableOfType(StatusRuntimeException.class, () -> set("Bad Name", tenant, 0, true, false));
        assertThat(bad.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(bad.getStatus().getDescription()).contains("2 problems").contains("budget.name");
        // The limit is money in USD: another currency, or none, is refused naming the field.
        var admin = BudgetServiceGrpc.newBlockingStub(as(tenant, Role.ADMIN));
        StatusRuntimeException euros = catchThrowableOfType(StatusRuntimeException.class, () -> admin.setBudget(SetBudgetRequest.newBuilder()
                .setBudget(Budget.newBuilder().setName("eur-" + run).setTenant(tenant).setLimit(com.google.type.Money.newBuilder().setCurrencyCode("EUR")
                        .setUnits(10))).build()));
        assertThat(euros.getStatus().getDescription()).contains("budget.limit.currency_code").contains("EUR");
        StatusRuntimeException none = catchThrowableOfType(StatusRuntimeException.class, () -> admin.setBudget(SetBudgetRequest.newBuilder()
                .setBudget(Budget.newBuilder().setName("none-" + run).setTenant(tenant)).build()));
        assertThat(none.getStatus().getDescription()).contains("budget.limit");
        StatusRuntimeException mixed = catchThrowableOfType(StatusRuntimeException.class, () -> admin.setBudget(SetBudgetRequest.newBuilder()
                .setBudget(Budget.newBuilder().setName("mixed-" + run).setTenant(tenant).setLimit(com.google.type.Money.newBuilder().setCurrencyCode("USD")
                        .setUnits(1).setNanos(-5))).build()));
        assertThat(mixed.getStatus().getDescription()).contains("one sign");
    }

    @Test
    void aCohortsHardBudgetIsSharedByItsTenants() {
        String cohort = "c-" + run;
        String first = "a-" + run;
        String second = "b-" + run;
        var files = dev.spillway.api.v1.ApplyPoliciesRequest.newBuilder();
        for (String t : List.of(first, second)) {
            files.addFiles(dev.spillway.api.v1.PolicyFile.newBuilder().setName(t + ".yaml").setText("""
                    apiVersion: spillway.dev/v1
                    kind: Tenant
                    metadata: {name: %s}
                    spec: {cohort: %s}
                    """.formatted(t, cohort)));
        }
        dev.spillway.api.v1.PolicyServiceGrpc.newBlockingStub(as("default", Role.FINOPS)).applyPolicies(files.build());
        // 0.015 for the cohort: one job of 0.01, from either tenant, and not a second.
        set("cohort-" + run, Budgets.COHORT + cohort, 15_000, true, true);
        admin = JobServiceGrpc.newBlockingStub(as("default", Role.ADMIN));
        submitted.add(JobServiceGrpc.newBlockingStub(as(first, Role.SUBMITTER)).submitJob(SubmitJobRequest.newBuilder().setSpec(centJob(first)).build())
                .getUid());
        StatusRuntimeException refused = catchThrowableOfType(StatusRuntimeException.class, () -> JobServiceGrpc.newBlockingStub(as(second, Role.SUBMITTER))
                .submitJob(SubmitJobRequest.newBuilder().setSpec(centJob(second)).build()));
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(refused.getStatus().getDescription()).contains("hard budget cohort-" + run + " of cohort " + cohort + " has 0.005 USD left of 0.015");
    }

    private Row row(String sql, Object arg) {
        return pool.preparedQuery(sql).execute(Tuple.of(arg)).await().atMost(Duration.ofSeconds(30)).iterator().next();
    }

    private void exec(String sql, Tuple args) {
        pool.preparedQuery(sql).execute(args).await().atMost(Duration.ofSeconds(30));
    }
}
