package dev.spillway.broker.agents;

import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.store.JoinTokenStore;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.core.scheduling.Resources;
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
import java.util.Map;

/**
 * One-time join tokens and the node credentials they turn into. A join token is bound to one node
 * name and pool, fixes the node's labels and capacity ceiling ({@link Provisioning}), expires, and
 * is spent by the first registration that presents it (a compare-and-set on its row). It never
 * takes over a name whose node already has a credential unless minted to re-provision it. Only
 * SHA-256 hashes are stored; the secrets exist only in the responses that hand them out.
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

    /**
     * Mints a token that admits {@code grant}'s node once, within {@code ttl}. Fails with
     * {@link InvalidRequest} (field {@code replace_existing}) when the node already has a node
     * credential and the grant does not re-provision it; the check is repeated when the token is spent.
     */
    public Uni<Minted> mintJoinToken(JoinTokenStore.Grant grant, Duration ttl) {
        Uni<Boolean> taken = grant.replaceExisting() ? Uni.createFrom().item(false) : nodes.hasCredential(grant.nodeName());
        return taken.flatMap(has -> {
            if (has) {
                return Uni.createFrom().failure(InvalidRequest.of("replace_existing", "node " + grant.nodeName()
                        + " already has a node credential; re-provisioning the name is an explicit action (replace_existing, "
                        + "spillway token create --replace): the old credential stops working and a live connection of the node is closed"));
            }
            String token = JOIN_PREFIX + secret();
            Instant expires = clock.instant().plus(ttl);
            return tokens.insert(hash(token), grant, expires).map(v -> new Minted(token, expires));
        });
    }

    /** What a join token lets a registration do, or why not and how the stream ends (then {@code provisioning} is null). */
    public record Admission(Provisioning provisioning, boolean replaceExisting, AgentLink.CloseReason reason, String refusal) {
        static Admission refused(AgentLink.CloseReason reason, String why) {
            return new Admission(null, false, reason, why);
        }
    }

    /**
     * Checks, without spending it, that {@code token} admits a node registering as {@code nodeName}
     * in {@code poolName} with {@code declared} labels and {@code capacity}: known, unspent,
     * unexpired, for this node and pool, within what it fixes, and (unless it re-provisions) for a
     * node that has no credential yet. Refusals never reveal more than the caller could know.
     */
    public Uni<Admission> checkJoinToken(String token, String nodeName, String poolName, Map<String, String> declared, Resources capacity) {
        return tokens.find(hash(token)).flatMap(m -> {
            String why = whyRefused(m, nodeName, poolName);
            if (why != null) return Uni.createFrom().item(Admission.refused(AgentLink.CloseReason.UNAUTHENTICATED, why));
            JoinTokenStore.Grant g = m.grant();
            Provisioning fixed = new Provisioning(g.pool(), g.labels(), g.ceiling());
            String outside = fixed.refusal(poolName, declared, capacity);
            if (outside != null) return Uni.createFrom().item(Admission.refused(AgentLink.CloseReason.NOT_PERMITTED, outside));
            if (g.replaceExisting()) return Uni.createFrom().item(new Admission(fixed, true, null, null));
            return nodes.hasCredential(nodeName).map(has -> has
                    ? Admission.refused(AgentLink.CloseReason.NAME_IN_USE, "node " + nodeName + " already has a node credential (issued to the machine that joined as "
                    + nodeName + "); re-provisioning the name takes a token minted with replace_existing (spillway token create --replace)")
                    : new Admission(fixed, false, null, null));
        });
    }

    /**
     * Spends a join token checked by {@link #checkJoinToken} (a compare-and-set: a concurrent
     * registration or credential may have come first). Returns null when spent now, or why not.
     */
    public Uni<String> spendJoinToken(String token, String nodeName, String poolName) {
        String h = hash(token);
        return tokens.spend(h, nodeName, poolName).flatMap(spent -> spent ? Uni.createFrom().nullItem() : tokens.find(h).map(m -> {
            String why = whyRefused(m, nodeName, poolName);
            return why != null ? why : "node " + nodeName + " got a node credential meanwhile";
        }));
    }

    private String whyRefused(JoinTokenStore.Minted m, String nodeName, String poolName) {
        if (m == null) return "unknown join token";
        if (m.usedAt() != null) return "join token already used (by node " + m.nodeName() + ")";
        if (!m.nodeName().equals(nodeName)) return "join token was minted for another node, not " + nodeName;
        if (!m.pool().equals(poolName)) return "join token was minted for another pool, not " + poolName;
        if (!m.expiresAt().toInstant().isAfter(clock.instant())) return "join token expired at " + m.expiresAt();
        return null;
    }

    /** A fresh node credential: the secret for the agent, the hash for the store. */
    public record NodeCredential(String secret, String hash) {
        @Override
        public String toString() {
            return "NodeCredential[<redacted>]";
        }
    }

    public NodeCredential newNodeCredential() {
        String credential = NODE_PREFIX + secret();
        return new NodeCredential(credential, hash(credential));
    }

    /** What is fixed for {@code nodeName} when {@code credential} is its node credential; null when it is not. */
    public Uni<Provisioning> fixedFor(String credential, String nodeName) {
        return nodes.fixedFor(nodeName, hash(credential)).map(f -> f == null ? null : new Provisioning(f.pool(), f.labels(), f.ceiling()));
    }

    private String secret() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    public static String hash(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
