package dev.spillway.broker.store;

import dev.spillway.broker.config.BrokerConfig;
import io.quarkus.reactive.datasource.runtime.ConnectOptionsSupplier;
import io.quarkus.reactive.pg.client.PgPoolCreator;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.spi.PgDriver;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Creates the broker's reactive connection pool as Quarkus would, plus the bounds of {@code spillway.database.*}:
 * <ul>
 *   <li>{@code statement-timeout}: sent as PostgreSQL's {@code statement_timeout} and
 *       {@code idle_in_transaction_session_timeout} in each connection's startup message, so every statement on every
 *       broker connection has it, against the embedded server and an external one alike, with no {@code SET} round trip;</li>
 *   <li>{@code acquire-timeout}: the pool's connection timeout, how long a call waits for a connection (Quarkus has no
 *       setting for it; Vert.x's default is 30 s).</li>
 * </ul>
 * Credentials still come from {@link DatabaseCredentials} at every new connection, as in Quarkus's own pool.
 * {@code SHOW statement_timeout} through the pool reads the setting back (see the broker's DatabaseTimeoutTest).
 */
@Singleton
public class BoundedPgPool implements PgPoolCreator {

    private final BrokerConfig.Database settings;
    private final DatabaseCredentials credentials;

    public BoundedPgPool(BrokerConfig config, DatabaseCredentials credentials) {
        this.settings = config.database();
        this.credentials = credentials;
    }

    @Override
    public Pool create(Input input) {
        long statementMs = positiveMillis(settings.statementTimeout(), "spillway.database.statement-timeout");
        long acquireMs = positiveMillis(settings.acquireTimeout(), "spillway.database.acquire-timeout");
        List<PgConnectOptions> bounded = input.pgConnectOptionsList().stream()
                .map(o -> new PgConnectOptions(o)
                        .addProperty("statement_timeout", Long.toString(statementMs))
                        .addProperty("idle_in_transaction_session_timeout", Long.toString(statementMs)))
                .toList();
        PoolOptions pool = new PoolOptions(input.poolOptions())
                .setConnectionTimeout((int) Math.min(Integer.MAX_VALUE, acquireMs))
                .setConnectionTimeoutUnit(TimeUnit.MILLISECONDS);
        return PgDriver.INSTANCE.createPool(input.vertx(),
                new ConnectOptionsSupplier<>(credentials, DatabaseCredentials.NAME, bounded, PgConnectOptions::new), pool);
    }

    private static long positiveMillis(Duration d, String setting) {
        if (d.isNegative() || d.isZero() || d.toMillis() == 0) {
            throw new IllegalArgumentException(setting + " must be at least 1ms (was " + d + ")");
        }
        return d.toMillis();
    }
}
