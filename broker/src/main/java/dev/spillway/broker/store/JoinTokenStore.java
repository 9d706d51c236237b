package dev.spillway.broker.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/** One-time join tokens, by the SHA-256 hash of the secret (the secret itself is never stored). */
@ApplicationScoped
public class JoinTokenStore {

    private final Pool pool;

    public JoinTokenStore(Pool pool) {
        this.pool = pool;
    }

    public Uni<Void> insert(String tokenHash, String nodeName, String poolName, Instant expires) {
        return pool.preparedQuery("INSERT INTO join_token (token_hash, node_name, pool, expires_at) VALUES ($1, $2, $3, $4)")
                .execute(Tuple.of(tokenHash, nodeName, poolName, expires.atOffset(ZoneOffset.UTC)))
                .replaceWithVoid();
    }

    /** Spends the token for this node and pool if it is unused and unexpired (compare-and-set); true when spent now. */
    public Uni<Boolean> spend(String tokenHash, String nodeName, String poolName) {
        return pool.preparedQuery("""
                UPDATE join_token SET used_at = now()
                WHERE token_hash = $1 AND node_name = $2 AND pool = $3 AND used_at IS NULL AND expires_at > now()
                RETURNING node_name""")
                .execute(Tuple.of(tokenHash, nodeName, poolName))
                .map(rows -> rows.rowCount() == 1);
    }

    /** What a token was minted for; null for an unknown token. */
    public record Minted(String nodeName, String pool, OffsetDateTime expiresAt, OffsetDateTime usedAt) {
    }

    public Uni<Minted> find(String tokenHash) {
        return pool.preparedQuery("SELECT node_name, pool, expires_at, used_at FROM join_token WHERE token_hash = $1")
                .execute(Tuple.of(tokenHash))
                .map(rows -> {
                    if (rows.size() == 0) return null;
                    Row r = rows.iterator().next();
                    return new Minted(r.getString("node_name"), r.getString("pool"), r.getOffsetDateTime("expires_at"),
                            r.getOffsetDateTime("used_at"));
                });
    }
}
