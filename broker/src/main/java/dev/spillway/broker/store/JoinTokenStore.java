package dev.spillway.broker.store;

import dev.spillway.core.scheduling.Resources;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;

/** One-time join tokens, by the SHA-256 hash of the secret (the secret itself is never stored). */
@ApplicationScoped
public class JoinTokenStore {

    private final Pool pool;

    public JoinTokenStore(Pool pool) {
        this.pool = pool;
    }

    /**
     * What a token admits: one node name in one pool, with the labels and capacity ceiling it will
     * carry (null ceiling: none), and whether it may re-provision a name that has a credential.
     */
    public record Grant(String nodeName, String pool, Map<String, String> labels, Resources ceiling, boolean replaceExisting) {
        public Grant {
            labels = Map.copyOf(labels);
        }
    }

    public Uni<Void> insert(String tokenHash, Grant grant, Instant expires) {
        Resources c = grant.ceiling();
        return pool.preparedQuery("""
                        INSERT INTO join_token (token_hash, node_name, pool, expires_at, labels, max_cpu_millis, max_memory_mib, max_gpus, replace_existing)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""")
                .execute(Tuple.tuple().addString(tokenHash).addString(grant.nodeName()).addString(grant.pool())
                        .addOffsetDateTime(expires.atOffset(ZoneOffset.UTC)).addValue(new JsonObject(Map.copyOf(grant.labels())))
                        .addLong(c == null ? null : c.cpuMillis()).addLong(c == null ? null : c.memoryMib())
                        .addInteger(c == null ? null : c.gpus()).addBoolean(grant.replaceExisting()))
                .replaceWithVoid();
    }

    /**
     * Spends the token for this node and pool if it is unused and unexpired, and (unless it
     * re-provisions) the node has no credential yet: one compare-and-set. True when spent now.
     */
    public Uni<Boolean> spend(String tokenHash, String nodeName, String poolName) {
        return pool.preparedQuery("""
                UPDATE join_token t SET used_at = now()
                WHERE token_hash = $1 AND node_name = $2 AND pool = $3 AND used_at IS NULL AND expires_at > now()
                  AND (replace_existing OR NOT EXISTS (SELECT 1 FROM node n WHERE n.name = t.node_name AND n.credential_hash IS NOT NULL))
                RETURNING node_name""")
                .execute(Tuple.of(tokenHash, nodeName, poolName))
                .map(rows -> rows.rowCount() == 1);
    }

    /** What a token was minted for; null for an unknown token. */
    public record Minted(Grant grant, OffsetDateTime expiresAt, OffsetDateTime usedAt) {
        public String nodeName() {
            return grant.nodeName();
        }

        public String pool() {
            return grant.pool();
        }
    }

    public Uni<Minted> find(String tokenHash) {
        return pool.preparedQuery("""
                        SELECT node_name, pool, expires_at, used_at, labels, max_cpu_millis, max_memory_mib, max_gpus, replace_existing
                        FROM join_token WHERE token_hash = $1""")
                .execute(Tuple.of(tokenHash))
                .map(rows -> {
                    if (rows.size() == 0) return null;
                    Row r = rows.iterator().next();
                    return new Minted(new Grant(r.getString("node_name"), r.getString("pool"), NodeStore.labels(r.getJsonObject("labels")),
                            NodeStore.ceiling(r), r.getBoolean("replace_existing")),
                            r.getOffsetDateTime("expires_at"), r.getOffsetDateTime("used_at"));
                });
    }
}
