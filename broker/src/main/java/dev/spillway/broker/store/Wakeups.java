package dev.spillway.broker.store;

import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.pubsub.PgSubscriber;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

/**
 * Work arrived at a broker that does not lead: PostgreSQL's {@code NOTIFY} tells the leader at
 * once, whichever broker it is, instead of letting the work wait for its next scheduling cycle.
 * Each broker listens on a connection of its own, reconnecting when it breaks; a notice lost
 * meanwhile costs at most one cycle's interval.
 */
@ApplicationScoped
public class Wakeups {

    private static final Logger LOG = Logger.getLogger(Wakeups.class);
    static final String CHANNEL = "spillway_work";

    private final Pool pool;
    private final io.vertx.core.Vertx vertx;
    private final DatabaseCredentials credentials;
    private PgSubscriber subscriber;

    public Wakeups(Pool pool, io.vertx.core.Vertx vertx, DatabaseCredentials credentials) {
        this.pool = pool;
        this.vertx = vertx;
        this.credentials = credentials;
    }

    /** Tells whichever broker leads that work arrived (fire and forget: the leader's cycle interval is the fallback). */
    public void notifyLeader() {
        pool.query("NOTIFY " + CHANNEL).execute().subscribe().with(done -> { }, e -> LOG.debugf("could not notify the leader: %s", e.getMessage()));
    }

    /** Calls {@code listener} at every notice, from now until the broker stops. */
    public synchronized void listen(Runnable listener) {
        if (subscriber != null) throw new IllegalStateException("already listening");
        var config = ConfigProvider.getConfig();
        PgConnectOptions options = PgConnectOptions.fromUri(config.getValue("quarkus.datasource.reactive.url", String.class));
        Map<String, String> user = credentials.getCredentials(DatabaseCredentials.NAME);
        options.setUser(user.get(io.quarkus.credentials.CredentialsProvider.USER_PROPERTY_NAME));
        options.setPassword(user.get(io.quarkus.credentials.CredentialsProvider.PASSWORD_PROPERTY_NAME));
        subscriber = PgSubscriber.subscriber(vertx, options).reconnectPolicy(retries -> 1000L);
        subscriber.channel(CHANNEL).handler(payload -> listener.run());
        subscriber.connect().onFailure(e -> LOG.warnf("cannot listen for work arriving at other brokers (%s); the scheduling cycle's interval "
                + "bounds the wait", DatabaseCalls.unavailableBecause(e)));
    }

    public synchronized void close() {
        if (subscriber != null) subscriber.close();
    }
}
