package dev.spillway.broker.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * The leader lease row and the brokers that share the database. Each statement is one rule of
 * {@link dev.spillway.core.leader.LeaderLease}, judged at the database's {@code now()}: the
 * brokers' own clocks never decide who leads.
 */
@ApplicationScoped
public class LeaderStore {

    private static final String RETURNING = " RETURNING epoch, holder, address, acquired_at, expires_at, now() AS db_now";

    private final Pool pool;

    public LeaderStore(Pool pool) {
        this.pool = pool;
    }

    /** The lease as the database has it, and the database's time when it was read. */
    public record Lease(long epoch, String holder, String address, Instant acquiredAt, Instant expiresAt, Instant dbNow) {
        /** Whether someone holds it at the time it was read. */
        public boolean held() {
            return holder != null && expiresAt != null && expiresAt.isAfter(dbNow);
        }
    }

    /**
     * Takes the lease if it has expired (or was released) or is this broker's own, raising the
     * epoch; with {@code force}, even if another holds it (a broker that owns its database alone:
     * the embedded one). Null when another broker holds it.
     */
    public Uni<Lease> take(String me, String address, Duration ttl, boolean force) {
        return pool.preparedQuery("""
                        UPDATE leader SET epoch = epoch + 1, holder = $1, address = $2, acquired_at = now(),
                                          expires_at = now() + $3 * interval '1 microsecond'
                        WHERE name = 'broker' AND (expires_at < now() OR holder = $1 OR $4)""" + RETURNING)
                .execute(Tuple.of(me, address, micros(ttl), force))
                .map(LeaderStore::first);
    }

    /** Extends the lease of {@code epoch} to now + ttl; null when it is no longer this broker's (someone took over). */
    public Uni<Lease> renew(String me, long epoch, String address, Duration ttl) {
        return pool.preparedQuery("""
                        UPDATE leader SET expires_at = greatest(expires_at, now() + $3 * interval '1 microsecond'), address = $4
                        WHERE name = 'broker' AND holder = $1 AND epoch = $2""" + RETURNING)
                .execute(Tuple.of(me, epoch, micros(ttl), address))
                .map(LeaderStore::first);
    }

    /** Gives the lease of {@code epoch} up at once (a follower takes over at its next try); false when it was not this broker's. */
    public Uni<Boolean> release(String me, long epoch) {
        return pool.preparedQuery("UPDATE leader SET expires_at = now() - interval '1 microsecond' WHERE name = 'broker' AND holder = $1 AND epoch = $2")
                .execute(Tuple.of(me, epoch))
                .map(rows -> rows.rowCount() == 1);
    }

    public Uni<Lease> read() {
        return pool.preparedQuery("SELECT epoch, holder, address, acquired_at, expires_at, now() AS db_now FROM leader WHERE name = 'broker'")
                .execute()
                .map(LeaderStore::first);
    }

    /** A broker that shares the database, as it last said. */
    public record Peer(String id, String address, String version, Instant startedAt, Instant seenAt) {
    }

    /** Says this broker is alive (and where it is reached). */
    public Uni<Void> seen(String id, String address, String version, Instant startedAt) {
        return pool.preparedQuery("""
                        INSERT INTO broker_instance (id, address, version, started_at, seen_at) VALUES ($1, $2, $3, $4, now())
                        ON CONFLICT (id) DO UPDATE SET address = excluded.address, seen_at = now()""")
                .execute(Tuple.of(id, address, version, startedAt.atOffset(java.time.ZoneOffset.UTC)))
                .replaceWithVoid();
    }

    /** The brokers heard from within {@code within}, and forgets those silent for a day. */
    public Uni<List<Peer>> peers(Duration within) {
        return pool.preparedQuery("DELETE FROM broker_instance WHERE seen_at < now() - interval '1 day'").execute()
                .flatMap(v -> pool.preparedQuery("""
                                SELECT id, address, version, started_at, seen_at FROM broker_instance
                                WHERE seen_at >= now() - $1 * interval '1 microsecond' ORDER BY started_at, id""")
                        .execute(Tuple.of(micros(within))))
                .map(rows -> {
                    List<Peer> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Peer(r.getString("id"), r.getString("address"), r.getString("version"),
                                instant(r.getOffsetDateTime("started_at")), instant(r.getOffsetDateTime("seen_at"))));
                    }
                    return out;
                });
    }

    private static Lease first(RowSet<Row> rows) {
        var it = rows.iterator();
        if (!it.hasNext()) return null;
        Row r = it.next();
        return new Lease(r.getLong("epoch"), r.getString("holder"), r.getString("address"), instant(r.getOffsetDateTime("acquired_at")),
                instant(r.getOffsetDateTime("expires_at")), instant(r.getOffsetDateTime("db_now")));
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }

    private static long micros(Duration d) {
        return d.toNanos() / 1000;
    }
}
