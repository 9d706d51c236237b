package dev.spillway.broker.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.spillway.broker.retention.RetentionPolicy.Kind;
import dev.spillway.broker.store.RetentionStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Retention with windows of one hour and batches of two, against the real schema: old finished jobs go with their tasks,
 * events and labels, young ones and unfinished ones stay, and a job with a task still running is never touched, whatever
 * its row says; spent and expired join tokens and ended instance records go after their window, the instances' costs
 * kept in {@code instance_cost_history}; old audit events go. Sweeps are started by the test (the timer's first one is an
 * hour away).
 */
@QuarkusTest
@TestProfile(RetentionTest.OneHour.class)
class RetentionTest {

    public static class OneHour implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("spillway.retention.jobs", "1h", "spillway.retention.records", "1h", "spillway.retention.audit", "1h",
                    "spillway.retention.first-sweep-after", "1h", "spillway.retention.batch-size", "2",
                    "spillway.retention.batch-pause", "10ms");
        }
    }

    @Inject
    Pool pool;

    @Inject
    RetentionSweeper sweeper;

    @Inject
    RetentionStore store;

    @Inject
    MeterRegistry registry;

    private final String tenant = "retention-" + UUID.randomUUID().toString().substring(0, 8);

    @Test
    void oldFinishedJobsGoWithEverythingTheyOwnAndNothingElseDoes() {
        Instant now = Instant.now();
        List<UUID> old = List.of(
                job("SUCCEEDED", now.minus(Duration.ofHours(5)), now.minus(Duration.ofHours(3)), "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"),
                job("FAILED", now.minus(Duration.ofHours(5)), now.minus(Duration.ofHours(2)), "FAILED"),
                job("CANCELLED", now.minus(Duration.ofDays(40)), now.minus(Duration.ofDays(31)), "CANCELLED", "SUCCEEDED"),
                job("SUCCEEDED", now.minus(Duration.ofHours(3)), now.minus(Duration.ofMinutes(61)), "SUCCEEDED"),
                job("FAILED", now.minus(Duration.ofHours(3)), now.minus(Duration.ofMinutes(90)), "LOST"));
        UUID young = job("SUCCEEDED", now.minus(Duration.ofHours(3)), now.minus(Duration.ofMinutes(10)), "SUCCEEDED");
        // Unfinished jobs (no queued tasks here: the scheduler would pick those up).
        UUID running = job("RUNNING", now.minus(Duration.ofHours(5)), null, "SUCCEEDED", "RUNNING", "ASSIGNED");
        UUID assigned = job("RUNNING", now.minus(Duration.ofDays(60)), null, "ASSIGNED");
        // Finished by its row, but a task still runs (a row out of step): not touched.
        UUID stillRunning = job("SUCCEEDED", now.minus(Duration.ofHours(5)), now.minus(Duration.ofHours(3)), "SUCCEEDED", "RUNNING");
        double before = deletedCounter("jobs");

        Map<Kind, Long> swept = sweeper.sweep();

        assertThat(swept.getOrDefault(Kind.JOBS, 0L)).isGreaterThanOrEqualTo(old.size());
        assertThat(deletedCounter("jobs") - before).isGreaterThanOrEqualTo(old.size());
        for (UUID id : old) {
            assertThat(count("SELECT count(*) FROM job WHERE id = $1", id)).as("job %s", id).isZero();
            assertThat(count("SELECT count(*) FROM task WHERE job_id = $1", id)).isZero();
            assertThat(count("SELECT count(*) FROM task_event WHERE job_id = $1", id)).isZero();
            assertThat(count("SELECT count(*) FROM job_label WHERE job_id = $1", id)).isZero();
        }
        for (UUID id : List.of(young, running, assigned, stillRunning)) {
            assertThat(count("SELECT count(*) FROM job WHERE id = $1", id)).as("job %s", id).isOne();
            assertThat(count("SELECT count(*) FROM task WHERE job_id = $1", id)).isPositive();
            assertThat(count("SELECT count(*) FROM task_event WHERE job_id = $1", id)).isPositive();
            assertThat(count("SELECT count(*) FROM job_label WHERE job_id = $1", id)).isOne();
        }
    }

    @Test
    void aBatchOfJobsStopsAtTheTaskCapButAlwaysTakesOne() {
        Instant longAgo = Instant.parse("2001-01-01T00:00:00Z");
        UUID first = job("SUCCEEDED", longAgo, longAgo.plusSeconds(60), "SUCCEEDED", "SUCCEEDED", "SUCCEEDED");
        UUID second = job("SUCCEEDED", longAgo, longAgo.plusSeconds(120), "SUCCEEDED");
        UUID third = job("SUCCEEDED", longAgo, longAgo.plusSeconds(180), "SUCCEEDED");
        Instant cutoff = longAgo.plus(Duration.ofDays(1));
        // Nothing else finished before 2001 but what an interrupted earlier run of this test may have left.
        exec("DELETE FROM job WHERE finished_at < $1 AND id <> ALL($2)", Tuple.of(at(cutoff), new UUID[] {first, second, third}));

        assertThat(store.deleteFinishedJobs(cutoff, 10, 1).await().atMost(Duration.ofSeconds(30))).isOne();
        assertThat(count("SELECT count(*) FROM job WHERE id = $1", first)).isZero();
        assertThat(count("SELECT count(*) FROM job WHERE id = $1", second)).isOne();
        // The second job's task is the first under the cap; the third would pass it.
        assertThat(store.deleteFinishedJobs(cutoff, 10, 1).await().atMost(Duration.ofSeconds(30))).isOne();
        assertThat(store.deleteFinishedJobs(cutoff, 10, 100).await().atMost(Duration.ofSeconds(30))).isOne();
        assertThat(count("SELECT count(*) FROM job WHERE id = ANY($1)", new UUID[] {first, second, third})).isZero();
    }

    @Test
    void spentAndExpiredTokensGoAfterTheirWindowUnusableOnesOnly() {
        Instant now = Instant.now();
        String spentLongAgo = token(now.minus(Duration.ofHours(5)), now.minus(Duration.ofHours(2)), now.plus(Duration.ofDays(1)));
        String expiredLongAgo = token(now.minus(Duration.ofHours(5)), null, now.minus(Duration.ofHours(2)));
        String spentRecently = token(now.minus(Duration.ofHours(5)), now.minus(Duration.ofMinutes(10)), now.plus(Duration.ofDays(1)));
        String expiredRecently = token(now.minus(Duration.ofHours(5)), null, now.minus(Duration.ofMinutes(10)));
        String unspent = token(now.minus(Duration.ofHours(5)), null, now.plus(Duration.ofHours(1)));

        sweeper.sweep();

        for (String gone : List.of(spentLongAgo, expiredLongAgo)) {
            assertThat(count("SELECT count(*) FROM join_token WHERE token_hash = $1", gone)).isZero();
        }
        for (String kept : List.of(spentRecently, expiredRecently, unspent)) {
            assertThat(count("SELECT count(*) FROM join_token WHERE token_hash = $1", kept)).isOne();
        }
    }

    @Test
    void endedInstanceRecordsGoButTheirCostsStay() {
        Instant now = Instant.now();
        UUID terminated = instance("TERMINATED", 0.5, now.minus(Duration.ofHours(5)), now.minus(Duration.ofHours(3)));
        UUID neverLaunched = instance("FAILED", 2.0, null, now.minus(Duration.ofHours(2)));
        UUID brief = instance("TERMINATED", 0.36, now.minus(Duration.ofHours(4)), now.minus(Duration.ofHours(4)).plusMillis(10_500));
        UUID endedRecently = instance("TERMINATED", 1.0, now.minus(Duration.ofHours(2)), now.minus(Duration.ofMinutes(10)));
        UUID live = instance("JOINED", 1.0, now.minus(Duration.ofHours(50)), null);
        double before = deletedCounter("instances");

        sweeper.sweep();

        assertThat(deletedCounter("instances") - before).isGreaterThanOrEqualTo(2);
        for (UUID gone : List.of(terminated, neverLaunched, brief)) {
            assertThat(count("SELECT count(*) FROM cloud_instance WHERE id = $1", gone)).isZero();
        }
        for (UUID kept : List.of(endedRecently, live)) {
            assertThat(count("SELECT count(*) FROM cloud_instance WHERE id = $1", kept)).isOne();
            assertThat(count("SELECT count(*) FROM instance_cost_history WHERE instance_id = $1", kept)).isZero();
        }
        Row cost = row("SELECT * FROM instance_cost_history WHERE instance_id = $1", terminated);
        assertThat(cost.getDouble("cost_usd")).isCloseTo(1.0, within(1e-6)); // 2 h at 0.5 USD/h
        assertThat(cost.getDouble("price_usd_per_hour")).isEqualTo(0.5);
        assertThat(cost.getString("final_state")).isEqualTo("TERMINATED");
        assertThat(cost.getString("instance_type")).isEqualTo("m5.large");
        assertThat(cost.getString("provider_instance")).isEqualTo("i-" + terminated);
        assertThat(cost.getOffsetDateTime("launched_at").toInstant()).isCloseTo(now.minus(Duration.ofHours(5)), within(Duration.ofMillis(1)));
        assertThat(Arrays.asList(cost.getArrayOfStrings("for_jobs"))).containsExactly("job-a");
        // 10.5 s is billed as the minimum minute: 0.006 USD at 0.36 USD/h.
        assertThat(row("SELECT * FROM instance_cost_history WHERE instance_id = $1", brief).getDouble("cost_usd")).isEqualTo(0.006);
        Row nothing = row("SELECT * FROM instance_cost_history WHERE instance_id = $1", neverLaunched);
        assertThat(nothing.getDouble("cost_usd")).isZero();
        assertThat(nothing.getString("final_state")).isEqualTo("FAILED");
    }

    @Test
    void oldAuditEventsGo() {
        Instant now = Instant.now();
        long old = audit(now.minus(Duration.ofHours(2)));
        long recent = audit(now.minus(Duration.ofMinutes(5)));

        sweeper.sweep();

        assertThat(count("SELECT count(*) FROM audit_event WHERE seq = $1", old)).isZero();
        assertThat(count("SELECT count(*) FROM audit_event WHERE seq = $1", recent)).isOne();
    }

    // ---- rows, written as the broker would have ----

    /** A job with one task per given state, each task with an event, and one label. */
    private UUID job(String state, Instant created, Instant finished, String... taskStates) {
        UUID id = UUID.randomUUID();
        exec("""
                INSERT INTO job (id, name, tenant, priority, task_count, state, cpu_millis, memory_mib, gpus, max_retries,
                                 initial_backoff_ms, max_backoff_ms, spec, created_at, finished_at)
                VALUES ($1, 'retention', $2, 0, $3, $4, 100, 64, 0, 0, 1000, 1000, '\\x'::bytea, $5, $6)""",
                Tuple.from(Arrays.asList(id, tenant, taskStates.length, state, at(created), finished == null ? null : at(finished))));
        for (int i = 0; i < taskStates.length; i++) {
            boolean done = !List.of("QUEUED", "ASSIGNED", "RUNNING").contains(taskStates[i]);
            exec("INSERT INTO task (job_id, idx, state, queued_at, finished_at) VALUES ($1, $2, $3, $4, $5)",
                    Tuple.from(Arrays.asList(id, i, taskStates[i], at(created), done && finished != null ? at(finished) : null)));
            exec("INSERT INTO task_event (job_id, idx, attempt, state, reason, message, at) VALUES ($1, $2, 1, $3, 'test', '', $4)",
                    Tuple.of(id, i, taskStates[i], at(created)));
        }
        exec("INSERT INTO job_label (job_id, key, value) VALUES ($1, 'team', 'retention')", Tuple.of(id));
        return id;
    }

    private String token(Instant created, Instant used, Instant expires) {
        String hash = "retention-" + UUID.randomUUID();
        exec("INSERT INTO join_token (token_hash, node_name, pool, created_at, expires_at, used_at) VALUES ($1, $2, 'default', $3, $4, $5)",
                Tuple.from(Arrays.asList(hash, "node-" + hash, at(created), at(expires), used == null ? null : at(used))));
        return hash;
    }

    private UUID instance(String state, double price, Instant launched, Instant terminated) {
        UUID id = UUID.randomUUID();
        Instant requested = launched != null ? launched.minusSeconds(30) : terminated != null ? terminated.minusSeconds(30) : Instant.now();
        exec("""
                INSERT INTO cloud_instance (id, pool, node_name, provider_instance, instance_type, region, zone, spot, price_usd_per_hour,
                                            cpu_millis, memory_mib, gpus, state, reason, reason_code, for_jobs, requested_at, launched_at,
                                            terminated_at)
                VALUES ($1, 'retention-cloud', $2, $3, 'm5.large', 'eu-central-1', 'eu-central-1a', false, $4, 2000, 8192, 0, $5, 'test',
                        'test', '{job-a}', $6, $7, $8)""",
                Tuple.from(Arrays.asList(id, "retention-" + id, launched == null ? null : "i-" + id, price, state, at(requested),
                        launched == null ? null : at(launched), terminated == null ? null : at(terminated))));
        return id;
    }

    private long audit(Instant at) {
        return row("INSERT INTO audit_event (at, actor, tenant, action) VALUES ($1, 'test', $2, 'retention.test') RETURNING seq",
                Tuple.of(at(at), tenant)).getLong("seq");
    }

    private double deletedCounter(String kind) {
        return registry.get("spillway_retention_deleted").tag("kind", kind).counter().count();
    }

    private long count(String sql, Object arg) {
        return row(sql, Tuple.of(arg)).getLong(0);
    }

    private Row row(String sql, Object arg) {
        return row(sql, Tuple.of(arg));
    }

    private Row row(String sql, Tuple args) {
        return pool.preparedQuery(sql).execute(args).await().atMost(Duration.ofSeconds(30)).iterator().next();
    }

    private void exec(String sql, Tuple args) {
        pool.preparedQuery(sql).execute(args).await().atMost(Duration.ofSeconds(30));
    }

    private static OffsetDateTime at(Instant t) {
        return t.atOffset(ZoneOffset.UTC);
    }
}
