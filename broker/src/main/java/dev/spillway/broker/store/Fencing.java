package dev.spillway.broker.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.function.LongConsumer;

/**
 * The fencing epoch this broker writes with: the epoch of the leader lease it holds, or none.
 * Every write only the leader may do (plan commits, attempt reports, node leases and
 * registrations, cloud instance records) begins its transaction with {@link #check}, which
 * fails the whole transaction unless the epoch is still the leader's in the database
 * ({@code spillway_fence}): a broker that was deposed while it was paused changes nothing.
 */
@ApplicationScoped
public class Fencing {

    /** SQLSTATE of a write refused by the epoch check. */
    public static final String FENCED = "SPWF1";
    /** The epoch of a broker that does not lead: never a leader's (epochs start at 1). */
    static final long NONE = -1;

    private volatile long epoch = NONE;
    private volatile LongConsumer onFenced = e -> { };

    /** The epoch this broker writes with now; {@link #NONE} unless it leads. */
    public long epoch() {
        return epoch;
    }

    /** From now on this broker writes with {@code epoch} (it took the lease). */
    public void hold(long epoch) {
        this.epoch = epoch;
    }

    /** From now on this broker's leader-only writes are refused before they reach the database (it stepped down). */
    public void drop() {
        this.epoch = NONE;
    }

    /** Called with the refused epoch when the database refuses a write: the lease is someone else's. */
    public void onFenced(LongConsumer listener) {
        this.onFenced = listener;
    }

    /** Whether {@code failure} is the database refusing a write of a deposed leader. */
    public static boolean fenced(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof PgException pg && FENCED.equals(pg.getSqlState())) return true;
            if (t instanceof FencedException) return true;
        }
        return false;
    }

    /** A leader-only write attempted by a broker that does not lead (refused before it reached the database). */
    public static final class FencedException extends RuntimeException {
        FencedException() {
            super("this broker is not the leader: the write is refused", null, false, false);
        }
    }

    /** {@code work} in a leader-only transaction: {@link #check} first, then the work, given the epoch checked. */
    <T> Uni<T> transaction(io.vertx.mutiny.sqlclient.Pool pool, java.util.function.BiFunction<SqlClient, Long, Uni<T>> work) {
        return pool.withTransaction(tx -> check(tx).flatMap(e -> work.apply(tx, e)));
    }

    /**
     * The first statement of a leader-only transaction: the transaction fails (and nothing of it is
     * written) unless this broker's epoch is the leader's in the database. Gives the epoch checked,
     * which the transaction's task events carry. Gives the epoch checked,
     * which the transaction's task events carry.
     */
    Uni<Long> check(SqlClient tx) {
        long e = epoch;
        if (e == NONE) return Uni.createFrom().failure(new FencedException());
        return tx.preparedQuery("SELECT spillway_fence($1)").execute(Tuple.of(e))
                .onFailure(Fencing::fenced).invoke(f -> onFenced.accept(e))
                .replaceWith(e);
    }
}
