package dev.spillway.broker.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * The audit log table. Changes that have a row of their own (jobs, keys) write their event in
 * the same statement; this store appends the others and reads them all back.
 */
@ApplicationScoped
public class AuditStore {

    private final Pool pool;

    public AuditStore(Pool pool) {
        this.pool = pool;
    }

    public record EventRow(long seq, OffsetDateTime at, String actor, String tenant, String action, String target, String detail,
                           String remote) {
    }

    public Uni<Void> append(String actor, String tenant, String action, String target, String detail, String remote) {
        return pool.preparedQuery("INSERT INTO audit_event (actor, tenant, action, target, detail, remote) VALUES ($1, $2, $3, $4, $5, $6)")
                .execute(Tuple.from(new Object[] {actor, tenant, action, target, detail == null ? "" : detail, remote}))
                .replaceWithVoid();
    }

    /** Newest first, before sequence {@code beforeSeq} (0: from the newest), optionally of one action. */
    public Uni<List<EventRow>> page(int limit, long beforeSeq, String action) {
        return pool.preparedQuery("""
                SELECT seq, at, actor, tenant, action, target, detail, remote FROM audit_event
                WHERE ($2::bigint = 0 OR seq < $2) AND ($3::text IS NULL OR action = $3)
                ORDER BY seq DESC LIMIT $1""")
                .execute(Tuple.of(limit, beforeSeq, action))
                .map(rows -> {
                    List<EventRow> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new EventRow(r.getLong("seq"), r.getOffsetDateTime("at"), r.getString("actor"), r.getString("tenant"),
                                r.getString("action"), r.getString("target"), r.getString("detail"), r.getString("remote")));
                    }
                    return out;
                });
    }
}
