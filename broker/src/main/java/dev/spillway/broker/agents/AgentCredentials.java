package dev.spillway.broker.agents;

import dev.spillway.broker.store.JoinTokenStore;
import dev.spillway.broker.store.NodeStore;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
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

    private final JoinTokenStore tokens;
    private final NodeStore nodes;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();

    public AgentCredentials(JoinTokenStore tokens, NodeStore nodes, Clock clock) {
        this.tokens = tokens;
        this.nodes = nodes;
        this.clock = clock;
    }

    public record Minted(String token, Instant expires) {
    }

    public Uni<Minted> mintJoinToken(String nodeName, String poolName, Duration ttl) {
        String token = JOIN_PREFIX + secret();
        Instant expires = clock.instant().plus(ttl);
        return tokens.insert(hash(token), nodeName, poolName, expires).map(v -> new Minted(token, expires));
    }

    /**
     * Spends a join token for {@code nodeName} in {@code poolName}. Returns null when accepted, or
     * why it was refused (never revealing more than the caller could know).
     */
    public Uni<String> spendJoinToken(String token, String nodeName, String poolName) {
        String h = hash(token);
        return tokens.spend(h, nodeName, poolName)
                .flatMap(spent -> spent ? Uni.createFrom().nullItem() : tokens.find(h).map(m -> whyRefused(m, nodeName, poolName)));
    }

    private static String whyRefused(JoinTokenStore.Minted m, String nodeName, String poolName) {
        if (m == null) return "unknown join token";
        if (m.usedAt() != null) return "join token already used (by node " + m.nodeName() + ")";
        if (!m.nodeName().equals(nodeName)) return "join token was minted for another node, not " + nodeName;
        if (!m.pool().equals(poolName)) return "join token was minted for another pool, not " + poolName;
        return "join token expired at " + m.expiresAt();
    }

    /** A fresh credential for a node that just joined; its hash replaces any previous one. */
    public Uni<String> issueNodeCredential(String nodeName) {
        String credential = NODE_PREFIX + secret();
        return nodes.setCredentialHash(nodeName, hash(credential)).map(v -> credential);
    }

    /** Whether {@code credential} is the one issued to {@code nodeName}. */
    public Uni<Boolean> checkNodeCredential(String credential, String nodeName) {
        return nodes.credentialMatches(nodeName, hash(credential));
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
