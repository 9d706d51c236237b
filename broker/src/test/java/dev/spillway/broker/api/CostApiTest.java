package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.CostGroup;
import dev.spillway.api.v1.CostServiceGrpc;
import dev.spillway.api.v1.ExportCostsRequest;
import dev.spillway.api.v1.GetCostReportRequest;
import dev.spillway.api.v1.GetCostReportResponse;
import dev.spillway.broker.cost.CostLedger;
import dev.spillway.broker.cost.FocusRules;
import dev.spillway.core.access.Role;
import dev.spillway.core.cost.Billing;
import dev.spillway.core.cost.InstanceCharge;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ledger over its real records and the real API: two cloud instances (one across three
 * hours) with attempts of two tenants, and on-prem work priced by the rate card. The pool's
 * report adds up to the instances' charges to the millionth of a dollar, live and closed alike;
 * a tenant reads its own cost and nothing else; the FOCUS export keeps to the 1.2 rules and its
 * BilledCost adds up to the same charges. The ledger is derived data: the test clears it and
 * closes it itself (the timer is an hour away), since other tests' records share the database.
 */
@QuarkusTest
@TestProfile(CostApiTest.RateCard.class)
class CostApiTest {

    public static class RateCard implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("spillway.cost.rate-card.usd-per-cpu-hour", "0.02", "spillway.cost.rate-card.usd-per-gib-hour", "0.005",
                    "spillway.cost.close-every", "1h");
        }
    }

    @TestHTTPResource
    URL url;

    @Inject
    Pool pool;

    @Inject
    CostLedger ledger;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    private final String run = UUID.randomUUID().toString().substring(0, 8);
    private final String cloudPool = "cost-cloud-" + run;
    private final String rack = "cost-rack-" + run;
    private final String risk = "risk-" + run;
    private final String pricing = "pricing-" + run;
    private final List<ManagedChannel> channels = new ArrayList<>();

    @AfterEach
    void close() {
        channels.forEach(ManagedChannel::shutdownNow);
    }

    private CostServiceGrpc.CostServiceBlockingStub costs(String tenant, Role role) {
        ManagedChannel c = TestCallers.channel(url, TestCallers.key(keys, tenant, role));
        channels.add(c);
        return CostServiceGrpc.newBlockingStub(c);
    }

    @Test
    void thePoolsCostIsItsInstancesChargesLiveAndClosedAndEachTenantReadsItsOwn() {
        exec("DELETE FROM cost_entry", Tuple.tuple());
        exec("DELETE FROM cost_ledger", Tuple.tuple());
        Instant now = Instant.now();
        // Across three hours: launched 2 h 50 min ago, terminated 40 min ago; 4 cores, 16 GiB at 0.36/h.
        Instant aLaunched = now.minus(Duration.ofMinutes(170)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).plusMillis(250);
        Instant aEnded = now.minus(Duration.ofMinutes(40));
        String a = instance(0.36, aLaunched, aEnded, false);
        // Briefly, on spot: 20 s, billed its minute.
        Instant bLaunched = now.minus(Duration.ofMinutes(25));
        String b = instance(0.12, bLaunched, bLaunched.plusSeconds(20), true);
        // risk holds half of a for an hour (0.18); pricing a quarter for half an hour (0.045).
        usage(risk, "node-" + a, cloudPool, 2000, 8192, aLaunched.plusSeconds(60), aLaunched.plusSeconds(3660));
        usage(pricing, "node-" + a, cloudPool, 1000, 4096, aLaunched.plusSeconds(600), aLaunched.plusSeconds(2400));
        // On-prem: 2 cores, 4 GiB for 90 minutes at 0.02 per core-hour and 0.005 per GiB-hour = 0.09.
        UUID rackJob = usage(risk, "rack-node-" + run, rack, 2000, 4096, now.minus(Duration.ofMinutes(150)), now.minus(Duration.ofMinutes(60)));

        long charges = charge(0.36, aLaunched, aEnded) + charge(0.12, bLaunched, bLaunched.plusSeconds(20));
        Timestamp from = ts(aLaunched.minus(Duration.ofMinutes(5)));
        var finops = costs("default", Role.FINOPS);

        GetCostReportResponse live = finops.getCostReport(GetCostReportRequest.newBuilder().setGroupBy("pool").setStartTime(from).build());
        CostGroup cloud = group(live, cloudPool);
        assertThat(dev.spillway.api.Usd.micros(cloud.getCloudCost()) + dev.spillway.api.Usd.micros(cloud.getIdleCost())).as("allocated + idle = the instances' charges").isEqualTo(charges);
        assertThat(dev.spillway.api.Usd.micros(group(live, rack).getOnPremCost())).isCloseTo(90_000L, within(1L));
        // One job's cost alone; another tenant asking for it reads nothing.
        assertThat(jobCost(finops, rackJob, from)).isCloseTo(90_000L, within(1L));
        assertThat(jobCost(costs(pricing, Role.VIEWER), rackJob, from)).isZero();

        // Cut into hours, the window's periods are contiguous and add up to its total, on either side of closing.
        GetCostReportResponse hourly = finops.getCostReport(GetCostReportRequest.newBuilder().setGroupBy("pool").setStartTime(from)
                .setEndTime(ts(now)).setInterval(dev.spillway.api.v1.CostInterval.COST_INTERVAL_HOUR).build());
        assertThat(hourly.getPeriodsList()).hasSizeBetween(3, 4);
        assertThat(hourly.getPeriods(0).getStartTime()).isEqualTo(hourly.getStartTime());
        assertThat(hourly.getPeriods(hourly.getPeriodsCount() - 1).getEndTime()).isEqualTo(hourly.getEndTime());
        for (int i = 1; i < hourly.getPeriodsCount(); i++) assertThat(hourly.getPeriods(i).getStartTime()).isEqualTo(hourly.getPeriods(i - 1).getEndTime());
        assertThat(hourly.getPeriodsList().stream().mapToLong(p -> micros(p.getTotal())).sum()).isEqualTo(micros(hourly.getTotal()));
        GetCostReportResponse daily = finops.getCostReport(GetCostReportRequest.newBuilder().setGroupBy("pool").setStartTime(from)
                .setEndTime(ts(now)).setInterval(dev.spillway.api.v1.CostInterval.COST_INTERVAL_DAY).build());
        assertThat(daily.getPeriodsList()).hasSizeBetween(1, 2);
        assertThat(daily.getPeriodsList().stream().mapToLong(p -> micros(p.getTotal())).sum()).isEqualTo(micros(hourly.getTotal()));

        Instant closedUntil = ledger.closeDue();
        assertThat(closedUntil).isAfter(aEnded.minus(Duration.ofHours(1)));
        assertThat(count("SELECT count(*) FROM cost_entry WHERE pool = $1", cloudPool)).isPositive();
        GetCostReportResponse closed = finops.getCostReport(GetCostReportRequest.newBuilder().setGroupBy("pool").setStartTime(from).build());
        assertThat(group(closed, cloudPool)).as("closing the hours changes no figure").isEqualTo(cloud);
        assertThat(group(closed, rack)).isEqualTo(group(live, rack));
        assertThat(jobCost(finops, rackJob, from)).as("a job's cost from closed hours").isCloseTo(90_000L, within(1L));
        assertThat(jobCost(costs(pricing, Role.VIEWER), rackJob, from)).isZero();

        // By tenant: risk paid for half of a for an hour (0.18) and its on-prem work; what nobody used is idle.
        GetCostReportResponse byTenant = finops.getCostReport(GetCostReportRequest.newBuilder().setStartTime(from).build());
        assertThat(dev.spillway.api.Usd.micros(group(byTenant, risk).getCloudCost())).isCloseTo(180_000L, within(3L));
        assertThat(dev.spillway.api.Usd.micros(group(byTenant, pricing).getCloudCost())).isCloseTo(45_000L, within(3L));
        assertThat(byTenant.getGroupsList()).anyMatch(g -> g.getKey().isEmpty() && dev.spillway.api.Usd.micros(g.getIdleCost()) > 0);

        // A tenant reads its own cost, never idle cost nor another tenant's.
        var riskReader = costs(risk, Role.VIEWER);
        GetCostReportResponse own = riskReader.getCostReport(GetCostReportRequest.newBuilder().setStartTime(from).build());
        assertThat(own.getGroupsList()).extracting(CostGroup::getKey).containsExactly(risk);
        assertThat(dev.spillway.api.Usd.micros(own.getTotal().getIdleCost())).isZero();
        StatusRuntimeException refused = catchThrowableOfType(StatusRuntimeException.class,
                () -> riskReader.getCostReport(GetCostReportRequest.newBuilder().setStartTime(from).setTenant(pricing).build()));
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        StatusRuntimeException operator = catchThrowableOfType(StatusRuntimeException.class,
                () -> costs("default", Role.OPERATOR).getCostReport(GetCostReportRequest.newBuilder().setStartTime(from).build()));
        assertThat(operator.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        StatusRuntimeException badGrouping = catchThrowableOfType(StatusRuntimeException.class,
                () -> finops.getCostReport(GetCostReportRequest.newBuilder().setStartTime(from).setGroupBy("colour").build()));
        assertThat(badGrouping.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

        // The FOCUS export: every row keeps the 1.2 rules, and the pool's BilledCost adds up to the charges.
        StringBuilder csv = new StringBuilder();
        finops.exportCosts(ExportCostsRequest.newBuilder().setFormat("focus").setStartTime(from).build())
                .forEachRemaining(chunk -> csv.append(chunk.getChunk().toString(StandardCharsets.UTF_8)));
        List<Map<String, String>> rows = FocusRules.check(csv.toString());
        long billed = rows.stream().filter(r -> r.get("x_Pool").equals(cloudPool))
                .mapToLong(r -> new java.math.BigDecimal(r.get("BilledCost")).movePointRight(6).longValueExact()).sum();
        assertThat(billed).isEqualTo(charges);
        assertThat(rows).filteredOn(r -> r.get("x_Pool").equals(cloudPool) && r.get("SkuId").equals("t3.medium"))
                .extracting(r -> r.get("PricingCategory")).containsOnly("Dynamic");
        assertThat(rows).filteredOn(r -> r.get("x_Pool").equals(rack)).allSatisfy(r -> {
            assertThat(r.get("ProviderName")).isEqualTo("On-premises");
            assertThat(r.get("SubAccountId")).isEqualTo(risk);
        });
    }

    @Test
    void anEstimateIsOfTheCallersOwnTenantChecksTheSpecAndStoresNothing() {
        String team = "quote-" + run;
        ManagedChannel c = TestCallers.channel(url, TestCallers.key(keys, team, Role.SUBMITTER));
        channels.add(c);
        var jobs = dev.spillway.api.v1.JobServiceGrpc.newBlockingStub(c);
        long before = count("SELECT count(*) FROM job WHERE tenant = $1", team);
        var spec = JobApiTest.valid().toBuilder().setTenant(team).setTaskCount(3);
        spec.getTaskBuilder().setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(600));
        var quote = jobs.estimateJob(dev.spillway.api.v1.EstimateJobRequest.newBuilder().setSpec(spec).build());
        assertThat(quote.hasNotToExceedCost()).isTrue();
        assertThat(quote.getRuntimeBasis()).isEqualTo(dev.spillway.api.v1.RuntimeBasis.RUNTIME_BASIS_MAX_RUNTIME);
        assertThat(quote.getPlacedNowMap().values().stream().mapToInt(Integer::intValue).sum() + quote.getBurst() + quote.getWaiting()).isEqualTo(3);

        spec.getTaskBuilder().clearMaxRuntime();
        var unbounded = jobs.estimateJob(dev.spillway.api.v1.EstimateJobRequest.newBuilder().setSpec(spec).build());
        assertThat(unbounded.hasNotToExceedCost()).isFalse();
        assertThat(unbounded.getUnboundedReason()).contains("spec.task.max_runtime");

        StatusRuntimeException other = catchThrowableOfType(StatusRuntimeException.class, () -> jobs.estimateJob(
                dev.spillway.api.v1.EstimateJobRequest.newBuilder().setSpec(spec.clone().setTenant("someone-else-" + run)).build()));
        assertThat(other.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        spec.getTaskBuilder().setExpectedRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(900))
                .setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(600));
        StatusRuntimeException invalid = catchThrowableOfType(StatusRuntimeException.class,
                () -> jobs.estimateJob(dev.spillway.api.v1.EstimateJobRequest.newBuilder().setSpec(spec).build()));
        assertThat(invalid.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(invalid.getStatus().getDescription()).contains("spec.task.expected_runtime");
        ManagedChannel asViewer = TestCallers.channel(url, TestCallers.key(keys, team, Role.VIEWER));
        channels.add(asViewer);
        StatusRuntimeException viewer = catchThrowableOfType(StatusRuntimeException.class, () -> dev.spillway.api.v1.JobServiceGrpc
                .newBlockingStub(asViewer).estimateJob(dev.spillway.api.v1.EstimateJobRequest.newBuilder().setSpec(spec).build()));
        assertThat(viewer.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(count("SELECT count(*) FROM job WHERE tenant = $1", team)).as("an estimate stores nothing").isEqualTo(before);
    }

    @Test
    void aJobKeepsTheQuoteItWasAdmittedWith() {
        String team = "quoted-" + run;
        ManagedChannel c = TestCallers.channel(url, TestCallers.key(keys, team, Role.SUBMITTER));
        channels.add(c);
        var jobs = dev.spillway.api.v1.JobServiceGrpc.newBlockingStub(c);
        var spec = JobApiTest.valid().toBuilder().setTenant(team).setTaskCount(3);
        spec.getTaskBuilder().setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(600))
                .setExpectedRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(120));
        // Quoted now, then submitted as things stand: admission quotes from the same reading (at most a second old).
        var now = jobs.estimateJob(dev.spillway.api.v1.EstimateJobRequest.newBuilder().setSpec(spec).build());
        dev.spillway.api.v1.Job submitted = jobs.submitJob(dev.spillway.api.v1.SubmitJobRequest.newBuilder().setSpec(spec).build());

        assertThat(submitted.hasQuote()).as("SubmitJob answers with the quote it stored").isTrue();
        dev.spillway.api.v1.JobQuote kept = jobs.getJob(dev.spillway.api.v1.GetJobRequest.newBuilder().setName(submitted.getName()).build()).getQuote();
        assertThat(kept).isEqualTo(submitted.getQuote());
        assertThat(dev.spillway.api.Usd.micros(kept.getExpectedCost())).isEqualTo(dev.spillway.api.Usd.micros(now.getExpectedCost())).isPositive();
        assertThat(dev.spillway.api.Usd.micros(kept.getNotToExceedCost())).isEqualTo(dev.spillway.api.Usd.micros(now.getNotToExceedCost()))
                .isGreaterThanOrEqualTo(dev.spillway.api.Usd.micros(kept.getExpectedCost()));
        assertThat(kept.getUnboundedReason()).isEmpty();
        assertThat(count("SELECT quote_not_to_exceed_micro_usd FROM job WHERE id = $1", UUID.fromString(submitted.getUid())))
                .as("kept in the job's row").isEqualTo(dev.spillway.api.Usd.micros(kept.getNotToExceedCost()));
        assertThat(jobs.listJobs(dev.spillway.api.v1.ListJobsRequest.newBuilder().setFilter("tenant = \"" + team + "\"").build()).getJobsList())
                .singleElement().satisfies(j -> assertThat(j.getQuote()).isEqualTo(kept));

        // Without a wall-time limit the quote says why it has no bound.
        spec.getTaskBuilder().clearMaxRuntime().clearExpectedRuntime();
        dev.spillway.api.v1.JobQuote unbounded = jobs.submitJob(dev.spillway.api.v1.SubmitJobRequest.newBuilder().setSpec(spec).build()).getQuote();
        assertThat(unbounded.hasNotToExceedCost()).isFalse();
        assertThat(unbounded.hasExpectedCost()).isFalse();
        assertThat(unbounded.getUnboundedReason()).contains("spec.task.max_runtime");
    }

    private static CostGroup group(GetCostReportResponse r, String key) {
        return r.getGroupsList().stream().filter(g -> g.getKey().equals(key)).findFirst()
                .orElseThrow(() -> new AssertionError("no group " + key + " in " + r));
    }

    private static long charge(double price, Instant launched, Instant ended) {
        return InstanceCharge.of("i", "p", launched, ended, price, Billing.PER_SECOND_MINUTE_MINIMUM).microUsd();
    }

    private String instance(double price, Instant launched, Instant terminated, boolean spot) {
        UUID id = UUID.randomUUID();
        exec("""
                INSERT INTO cloud_instance (id, pool, node_name, provider_instance, instance_type, region, zone, spot, price_usd_per_hour,
                                            cpu_millis, memory_mib, gpus, state, requested_at, launched_at, terminated_at)
                VALUES ($1, $2, $3, $4, $5, 'eu-central-1', 'eu-central-1a', $6, $7, 4000, 16384, 0, 'TERMINATED', $8, $8, $9)""",
                Tuple.from(Arrays.asList(id, cloudPool, "node-" + id, "i-" + id, spot ? "t3.medium" : "m5.xlarge", spot, price, at(launched),
                        at(terminated))));
        return id.toString();
    }

    /** One attempt's use of a node; the id of the job it belongs to. */
    private UUID usage(String tenant, String node, String poolName, long cpu, long memory, Instant from, Instant to) {
        UUID job = UUID.randomUUID();
        exec("""
                INSERT INTO attempt_usage (job_id, idx, attempt, tenant, node, pool, cpu_millis, memory_mib, gpus, started_at, ended_at)
                VALUES ($1, 0, 1, $2, $3, $4, $5, $6, 0, $7, $8)""",
                Tuple.from(Arrays.asList(job, tenant, node, poolName, cpu, memory, at(from), at(to))));
        return job;
    }

    /** One job's cost as {@code reader} reads it: cloud + on-prem + idle, micro-USD. */
    private static long jobCost(dev.spillway.api.v1.CostServiceGrpc.CostServiceBlockingStub reader, UUID job, Timestamp from) {
        return micros(reader.getCostReport(GetCostReportRequest.newBuilder().setGroupBy("job").setJob(job.toString()).setStartTime(from).build()).getTotal());
    }

    private long count(String sql, Object arg) {
        return pool.preparedQuery(sql).execute(Tuple.of(arg)).await().atMost(Duration.ofSeconds(30)).iterator().next().getLong(0);
    }

    private static long micros(CostGroup g) {
        return dev.spillway.api.Usd.micros(g.getCloudCost()) + dev.spillway.api.Usd.micros(g.getOnPremCost()) + dev.spillway.api.Usd.micros(g.getIdleCost());
    }

    private void exec(String sql, Tuple args) {
        pool.preparedQuery(sql).execute(args).await().atMost(Duration.ofSeconds(30));
    }

    private static OffsetDateTime at(Instant t) {
        return t.atOffset(ZoneOffset.UTC);
    }

    private static Timestamp ts(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }
}
