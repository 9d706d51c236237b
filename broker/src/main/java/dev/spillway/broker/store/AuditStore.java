package dev.spillway.broker.store;

import dev.spillway.core.filter.Condition;
import dev.spillway.core.filter.FilterSchema;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

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

    /** What ListAuditEvents can be filtered by (AIP-160), and the columns {@link #page} reads them from. */
    public static final FilterSchema FILTER = FilterSchema.builder()
            .text("action")
            .text("actor")
            .text("tenant")
            .text("target")
            .time("time")
            .build();
    private static final SqlFilter.Columns COLUMNS = new SqlFilter.Columns(
            Map.of("action", "action", "actor", "actor", "tenant", "tenant", "target", "target", "time", "at"), Map.of());

    /** Newest first, before sequence {@code beforeSeq} (0: from the newest), that {@code filter} (of {@link #FILTER}) holds for. */
    public Uni<List<EventRow>> page(int limit, long beforeSeq, Condition filter) {
        Tuple args = Tuple.of(limit, beforeSeq);
        String where = SqlFilter.render(filter, COLUMNS, args);
        return pool.preparedQuery("""
                SELECT seq, at, actor, tenant, action, target, detail, remote FROM audit_event
                WHERE ($2::bigint = 0 OR seq < $2) AND\s""" + where + """

                ORDER BY seq DESC LIMIT $1""")
                .execute(args)
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
