package dev.spillway.broker.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.spillway.broker.errors.Unavailable;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.pgclient.PgException;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every database call is bounded: the server cancels a statement after {@code spillway.database.statement-timeout}
 * (read back from the server through the broker's pool), a call finds no free connection after {@code acquire-timeout},
 * and a call nothing answers is given up after both plus a margin. Short limits and a pool of four make it quick.
 */
@QuarkusTest
@TestProfile(DatabaseTimeoutTest.ShortLimits.class)
class DatabaseTimeoutTest {

    static final int POOL_SIZE = 4;

    public static class ShortLimits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("spillway.database.statement-timeout", "1s", "spillway.database.acquire-timeout", "1500ms",
                    "quarkus.datasource.reactive.max-size", Integer.toString(POOL_SIZE));
        }
    }

    @Inject
    Pool pool;

    @Inject
    DatabaseCalls db;

    private String show(String setting) {
        return db.await(pool.query("SHOW " + setting).execute(), "reading " + setting).iterator().next().getString(0);
    }

    @Test
    void theServerHasTheConfiguredLimitsOnEveryConnection() {
        assertThat(show("statement_timeout")).isEqualTo("1s");
        assertThat(show("idle_in_transaction_session_timeout")).isEqualTo("1s");
        assertThat(db.bound()).isEqualTo(Duration.ofMillis(1000 + 1500 + 5000));
    }

    @Test
    void aStatementLongerThanTheTimeoutIsCancelledWithinIt() {
        long start = System.nanoTime();
        Throwable raw = catchThrowable(() -> pool.query("SELECT pg_sleep(10)").execute().await().atMost(Duration.ofSeconds(10)));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(raw).isInstanceOf(PgException.class);
        assertThat(((PgException) raw).getSqlState()).isEqualTo("57014");
        assertThat(took).isBetween(Duration.ofMillis(900), Duration.ofSeconds(4));

        Throwable explained = catchThrowable(() -> db.await(pool.query("SELECT pg_sleep(10)").execute(), "sleeping on purpose"));
        assertThat(explained).isInstanceOf(Unavailable.class)
                .hasMessageContaining("cancelled a statement after 1 s while sleeping on purpose")
                .hasMessageContaining("spillway.database.statement-timeout");
        // The connection is fine afterwards.
        assertThat(show("statement_timeout")).isEqualTo("1s");
    }

    @Test
    void whenEveryConnectionIsHeldTheNextCallFailsAfterTheAcquireTimeout() {
        List<SqlConnection> held = new ArrayList<>();
        try {
            for (int i = 0; i < POOL_SIZE; i++) held.add(pool.getConnection().await().atMost(Duration.ofSeconds(10)));
            long start = System.nanoTime();
            Throwable e = catchThrowable(() -> db.await(pool.query("SELECT 1").execute(), "selecting one"));
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(e).isInstanceOf(Unavailable.class)
                    .hasMessageContaining("no database connection was free within 1500 ms while selecting one")
                    .hasMessageContaining("spillway.database.acquire-timeout");
            assertThat(took).isBetween(Duration.ofMillis(1400), Duration.ofMillis(4000));
        } finally {
            held.forEach(c -> c.close().await().atMost(Duration.ofSeconds(10)));
        }
        assertThat(db.await(pool.query("SELECT 1").execute(), "selecting one").iterator().next().getInteger(0)).isEqualTo(1);
    }

    @Test
    void aCallNothingAnswersIsGivenUpAfterTheBound() {
        long start = System.nanoTime();
        Throwable e = catchThrowable(() -> db.await(Uni.createFrom().nothing(), "waiting for a partitioned server"));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(e).isInstanceOf(Unavailable.class)
                .hasMessageContaining("did not answer within 7500 ms while waiting for a partitioned server");
        assertThat(took).isBetween(db.bound(), db.bound().plusSeconds(3));

        Throwable reactive = catchThrowable(() -> db.bounded(Uni.createFrom().nothing(), "streaming").await().atMost(Duration.ofSeconds(20)));
        assertThat(reactive).isInstanceOf(Unavailable.class).hasMessageContaining("while streaming");
    }
}
