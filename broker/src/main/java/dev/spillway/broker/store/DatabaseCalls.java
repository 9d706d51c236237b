package dev.spillway.broker.store;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.Unavailable;
import io.smallrye.mutiny.TimeoutException;
import io.smallrye.mutiny.Uni;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;

/**
 * Waits on database calls for a bounded time. The server cancels a statement after {@code spillway.database.statement-timeout}
 * and the pool gives up waiting for a connection after {@code acquire-timeout} ({@link BoundedPgPool}); neither helps when
 * the server is cut off mid-call (nothing ever answers), so callers also stop waiting after {@link #bound()}: both
 * timeouts plus five seconds for the network.
 *
 * <p>A call that runs out of time fails with {@link Unavailable} (gRPC UNAVAILABLE: retrying later may work) saying which
 * limit was reached and which setting sets it. Background loops log it and try again on their next tick.
 */
@ApplicationScoped
public class DatabaseCalls {

    /** SQLSTATE of a statement the server cancelled (statement_timeout). */
    static final String QUERY_CANCELED = "57014";
    /** SQLSTATE of a session the server ended for idling in a transaction. */
    static final String IDLE_IN_TRANSACTION_TIMEOUT = "25P03";
    private static final Duration NETWORK_SLACK = Duration.ofSeconds(5);

    private final Duration statementTimeout;
    private final Duration acquireTimeout;

    public DatabaseCalls(BrokerConfig config) {
        this.statementTimeout = config.database().statementTimeout();
        this.acquireTimeout = config.database().acquireTimeout();
    }

    /** Longest a caller waits for one database call: a connection, the statement, and the network. */
    public Duration bound() {
        return acquireTimeout.plus(statementTimeout).plus(NETWORK_SLACK);
    }

    /**
     * The call's result, waiting at most {@link #bound()}. Blocking: call it from a worker thread, never the event loop.
     *
     * @param what what the call does, for the error ("reading the live instances")
     * @throws Unavailable when a database limit was reached; other failures as they are
     */
    public <T> T await(Uni<T> call, String what) {
        try {
            return call.await().atMost(bound());
        } catch (RuntimeException e) {
            throw explain(e, what);
        }
    }

    /** The call, failing with {@link Unavailable} once {@link #bound()} has passed or a database limit was reached. */
    public <T> Uni<T> bounded(Uni<T> call, String what) {
        return call.ifNoItem().after(bound()).fail()
                .onFailure().transform(e -> explain(e, what));
    }

    /** {@code failure} as {@link Unavailable} when it is a database timeout, naming the setting; else as it is. */
    public RuntimeException explain(Throwable failure, String what) {
        Throwable cause = failure;
        for (int depth = 0; cause != null && depth < 8; depth++, cause = cause.getCause()) {
            if (cause instanceof TimeoutException) {
                return new Unavailable("the database did not answer within " + seconds(bound()) + " while " + what
                        + " (connection wait, statement timeout and network together; is the database reachable?)");
            }
            if (cause instanceof PgException pg && QUERY_CANCELED.equals(pg.getSqlState())) {
                return new Unavailable("the database cancelled a statement after " + seconds(statementTimeout) + " while " + what
                        + " (spillway.database.statement-timeout): " + pg.getErrorMessage());
            }
            if (cause instanceof PgException pg && IDLE_IN_TRANSACTION_TIMEOUT.equals(pg.getSqlState())) {
                return new Unavailable("the database ended a transaction left idle for " + seconds(statementTimeout) + " while " + what);
            }
            if (cause.getMessage() != null && cause.getMessage().startsWith("Timeout waiting for connection")) {
                return new Unavailable("no database connection was free within " + seconds(acquireTimeout) + " while " + what
                        + " (spillway.database.acquire-timeout; all quarkus.datasource.reactive.max-size connections were busy)");
            }
        }
        return failure instanceof RuntimeException r ? r : new IllegalStateException(what + " failed: " + failure.getMessage(), failure);
    }

    /**
     * Why {@code failure} is the database being out of reach for now (its connection broke, it is
     * restarting or recovering, it refused connections, a call timed out), or null when it is
     * something else. Such a failure is worth retrying: clients get UNAVAILABLE, not INTERNAL.
     */
    public static String unavailableBecause(Throwable failure) {
        return unavailableBecause(failure, 4);
    }

    /** @param levels how deep into suppressed failures to look (a failure may carry its server's reason beside it) */
    private static String unavailableBecause(Throwable failure, int levels) {
        Throwable cause = failure;
        for (int depth = 0; cause != null && depth < 8; depth++, cause = cause.getCause()) {
            // A connection the server ended (its shutdown, a restart) reports the reset, with the server's reason beside it.
            if (levels > 0) {
                for (Throwable beside : cause.getSuppressed()) {
                    String because = unavailableBecause(beside, levels - 1);
                    if (because != null) return because;
                }
            }
            if (cause instanceof Unavailable u) return u.getMessage();
            if (cause instanceof PgException pg && pg.getSqlState() != null) {
                String state = pg.getSqlState();
                if (state.startsWith("08") || state.equals("57P01") || state.equals("57P02") || state.equals("57P03") || state.equals("53300")
                        || state.equals(QUERY_CANCELED) || state.equals(IDLE_IN_TRANSACTION_TIMEOUT)) {
                    return "the database is unavailable (" + state + ": " + pg.getErrorMessage() + ")";
                }
            }
            if (cause instanceof io.vertx.sqlclient.ClosedConnectionException || cause instanceof java.net.ConnectException
                    || cause instanceof java.net.SocketException || cause instanceof TimeoutException) {
                return "the database is unavailable (" + cause.getClass().getSimpleName() + ": " + cause.getMessage() + ")";
            }
            if (cause.getMessage() != null && (cause.getMessage().startsWith("Timeout waiting for connection")
                    || cause.getMessage().contains("Connection closed") || cause.getMessage().contains("Connection refused"))) {
                return "the database is unavailable (" + cause.getMessage() + ")";
            }
        }
        return null;
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
