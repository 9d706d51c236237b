package dev.spillway.broker.store;

import static dev.spillway.core.lifecycle.StateMachine.sqlList;

import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.lifecycle.JobState;
import dev.spillway.core.task.TaskState;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.EnumSet;
import java.util.Set;

/**
 * Deletes what retention no longer keeps, one bounded batch per call (one statement, so one short transaction),
 * oldest first. Each method answers how many rows of its kind it deleted; fewer than the batch means none are left.
 */
@ApplicationScoped
public class RetentionStore {

    private static final Set<JobState> FINISHED_JOB = EnumSet.of(JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED);
    private static final Set<InstanceState> ENDED_INSTANCE = EnumSet.complementOf(EnumSet.copyOf(InstanceState.LIVE));

    private final Pool pool;
    private final Fencing fencing;

    /** Every sweep is the leader's to do: each delete is fenced, so a deposed leader's late sweep deletes nothing. */
    public RetentionStore(Pool pool, Fencing fencing) {
        this.pool = pool;
        this.fencing = fencing;
    }

    /**
     * Deletes up to {@code maxJobs} jobs that finished before {@code cutoff}, with (by their foreign keys' cascades) their
     * tasks, task events, labels and submission request ids. A job is taken only while the tasks of the jobs before it in the
     * batch number fewer than {@code maxTasks} (the first is always taken), so one batch of very large jobs stays short. A
     * job with any task still queued, assigned or running is never touched, whatever its row says.
     */
    public Uni<Integer> deleteFinishedJobs(Instant cutoff, int maxJobs, long maxTasks) {
        String finished = "j.finished_at < $1 AND j.state IN " + sqlList(FINISHED_JOB)
                + " AND NOT EXISTS (SELECT 1 FROM task t WHERE t.job_id = j.id AND t.state IN " + sqlList(TaskState.UNFINISHED) + ")";
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("WITH oldest AS (SELECT j.id, j.task_count, j.finished_at FROM job j WHERE " + finished
                        + " ORDER BY j.finished_at, j.id LIMIT $2), "
                        + "counted AS (SELECT id, task_count, sum(task_count) OVER (ORDER BY finished_at, id) AS upto FROM oldest) "
                        + "DELETE FROM job j WHERE j.id IN (SELECT id FROM counted WHERE upto - task_count < $3) AND " + finished)
                .execute(Tuple.of(at(cutoff), maxJobs, maxTasks)))
                .map(rows -> rows.rowCount());
    }

    /** Deletes up to {@code max} join tokens spent, or expired unspent, before {@code cutoff}. */
    public Uni<Integer> deleteSpentJoinTokens(Instant cutoff, int max) {
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("""
                        DELETE FROM join_token WHERE token_hash IN (
                          SELECT token_hash FROM join_token WHERE coalesce(used_at, expires_at) < $1
                          ORDER BY coalesce(used_at, expires_at) LIMIT $2)
                        AND coalesce(used_at, expires_at) < $1""")
                .execute(Tuple.of(at(cutoff), max)))
                .map(rows -> rows.rowCount());
    }

    /**
     * Deletes up to {@code max} records of instances that ended (terminated or failed) before {@code cutoff}. In the same
     * statement each one's cost facts (offering, price, launch and end, cost in USD as {@link
     * dev.spillway.core.cost.InstanceCharge} bills it) go to {@code instance_cost_history}:
     * a record is never deleted without them.
     */
    public Uni<Integer> deleteEndedInstances(Instant cutoff, int max) {
        String ended = "state IN " + sqlList(ENDED_INSTANCE) + " AND terminated_at < $1";
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("WITH gone AS (DELETE FROM cloud_instance WHERE id IN ("
                        + "SELECT id FROM cloud_instance WHERE " + ended + " ORDER BY terminated_at LIMIT $2) AND " + ended + " RETURNING *), "
                        + "kept AS (INSERT INTO instance_cost_history (instance_id, pool, node_name, provider_instance, instance_type, region, "
                        + "zone, spot, price_usd_per_hour, requested_at, launched_at, terminated_at, cost_usd, final_state, reason_code, for_jobs) "
                        + "SELECT id, pool, node_name, provider_instance, instance_type, region, zone, spot, price_usd_per_hour, requested_at, "
                        + "launched_at, terminated_at, "
                        // As InstanceCharge bills it: per started second, at least a minute, to a millionth of a dollar.
                        + "CASE WHEN launched_at IS NULL THEN 0 "
                        + "ELSE round((greatest(60, ceil(extract(epoch FROM terminated_at - launched_at))) * price_usd_per_hour * 1000000 / 3600)::numeric)"
                        + " / 1000000.0 END, "
                        + "state, reason_code, for_jobs FROM gone ON CONFLICT (instance_id) DO NOTHING) "
                        + "SELECT count(*) AS n FROM gone")
                .execute(Tuple.of(at(cutoff), max)))
                .map(rows -> (int) (long) rows.iterator().next().getLong("n"));
    }

    /** Deletes up to {@code max} audit events written before {@code cutoff}, oldest first. */
    public Uni<Integer> deleteAuditEvents(Instant cutoff, int max) {
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("""
                        DELETE FROM audit_event WHERE seq IN (
                          SELECT seq FROM audit_event WHERE at < $1 ORDER BY seq LIMIT $2)""")
                .execute(Tuple.of(at(cutoff), max)))
                .map(rows -> rows.rowCount());
    }

    private static java.time.OffsetDateTime at(Instant t) {
        return t.atOffset(ZoneOffset.UTC);
    }
}
