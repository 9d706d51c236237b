package dev.spillway.broker.agent;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.HexFormat;

/**
 * One-time join tokens and the node credentials they turn into. A join token is bound to one node
 * name and pool, expires, and is spent by the first registration that presents it (a
 * compare-and-set on its row). Only SHA-256 hashes are stored; the secrets exist only in the
 * responses that hand them out.
 */
@ApplicationScoped
public class AgentCredentials {

    public static final String JOIN_PREFIX = "join.";
    public static final String NODE_PREFIX = "node.";

    private final Pool pool;
    private final SecureRandom random = new SecureRandom();

    public AgentCredentials(Pool pool) {
        this.pool = pool;
    }

    public record Minted(String token, Instant expires) {
    }

    public Uni<Minted> mintJoinToken(String nodeName, String poolName, Duration ttl) {
        String token = JOIN_PREFIX + secret();
        Instant expires = Instant.now().plus(ttl);
        return pool.preparedQuery("INSERT INTO join_token (token_hash, node_name, pool, expires_at) VALUES ($1, $2, $3, $4)")
                .execute(Tuple.of(hash(token), nodeName, poolName, expires.atOffset(ZoneOffset.UTC)))
                .map(r -> new Minted(token, expires));
    }

    /**
     * Spends a join token for {@code nodeName} in {@code poolName}. Returns null when accepted, or
     * why it was refused (never revealing more than the caller could know).
     */
    public Uni<String> spendJoinToken(String token, String nodeName, String poolName) {
        String h = hash(token);
        return pool.preparedQuery("""
                UPDATE join_token SET used_at = now()
                WHERE token_hash = $1 AND node_name = $2 AND pool = $3 AND used_at IS NULL AND expires_at > now()
                RETURNING node_name""")
                .execute(Tuple.of(h, nodeName, poolName))
                .flatMap(rows -> rows.rowCount() == 1 ? Uni.createFrom().nullItem() : whyRefused(h, nodeName, poolName));
    }

    private Uni<String> whyRefused(String h, String nodeName, String poolName) {
        return pool.preparedQuery("SELECT node_name, pool, expires_at, used_at FROM join_token WHERE token_hash = $1")
                .execute(Tuple.of(h))
                .map(rows -> {
                    if (rows.size() == 0) return "unknown join token";
                    var r = rows.iterator().next();
                    if (r.getOffsetDateTime("used_at") != null) return "join token already used (by node " + r.getString("node_name") + ")";
                    if (!r.getString("node_name").equals(nodeName)) return "join token was minted for another node, not " + nodeName;
                    if (!r.getString("pool").equals(poolName)) return "join token was minted for another pool, not " + poolName;
                    OffsetDateTime expired = r.getOffsetDateTime("expires_at");
                    return "join token expired at " + expired;
                });
    }

    /** A fresh credential for a node that just joined; its hash replaces any previous one. */
    public Uni<String> issueNodeCredential(String nodeName) {
        String credential = NODE_PREFIX + secret();
        return pool.preparedQuery("UPDATE node SET credential_hash = $2 WHERE name = $1")
                .execute(Tuple.of(nodeName, hash(credential)))
                .map(r -> credential);
    }

    /** Whether {@code credential} is the one issued to {@code nodeName}. */
    public Uni<Boolean> checkNodeCredential(String credential, String nodeName) {
        return pool.preparedQuery("SELECT 1 FROM node WHERE name = $1 AND credential_hash = $2")
                .execute(Tuple.of(nodeName, hash(credential)))
                .map(rows -> rows.size() == 1);
    }

    private String secret() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    static String hash(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
