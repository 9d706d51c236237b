package dev.spillway.broker.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.spillway.api.v1.JobSpec;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The recorded workload, for what-if replay: each job submitted since a time, as submitted, with
 * when it arrived and how long its tasks ran (their mean; a task still running counts until now).
 */
@ApplicationScoped
public class WorkloadHistory {

    private final Pool pool;

    public WorkloadHistory(Pool pool) {
        this.pool = pool;
    }

    /**
     * A past job.
     *
     * @param meanRunMillis its started tasks' mean run time; -1 when none of them started
     */
    public record PastJob(UUID id, JobSpec spec, Instant submittedAt, long meanRunMillis) {
    }

    /** The jobs submitted at or after {@code from}, oldest first, at most {@code limit}. */
    public Uni<List<PastJob>> since(Instant from, int limit) {
        return pool.preparedQuery("""
                        SELECT j.id, j.spec, j.created_at,
                               (avg(extract(epoch FROM coalesce(t.finished_at, now()) - t.started_at)) FILTER (WHERE t.started_at IS NOT NULL)
                                 * 1000)::double precision AS run_ms
                        FROM job j LEFT JOIN task t ON t.job_id = j.id
                        WHERE j.created_at >= $1
                        GROUP BY j.id
                        ORDER BY j.created_at, j.id
                        LIMIT $2""")
                .execute(Tuple.of(OffsetDateTime.ofInstant(from, ZoneOffset.UTC), limit))
                .map(rows -> {
                    List<PastJob> out = new ArrayList<>();
                    for (Row r : rows) {
                        Double run = r.getDouble("run_ms");
                        JobSpec spec;
                        try {
                            spec = JobSpec.parseFrom(r.getBuffer("spec").getBytes());
                        } catch (InvalidProtocolBufferException e) {
                            throw new IllegalStateException("job " + r.getUUID("id") + " has an unreadable spec", e);
                        }
                        out.add(new PastJob(r.getUUID("id"), spec, r.getOffsetDateTime("created_at").toInstant(),
                                run == null ? -1 : Math.max(0, Math.round(run))));
                    }
                    return out;
                });
    }
}
