package dev.spillway.broker.security;

import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.Unauthenticated;
import dev.spillway.broker.errors.Violation;
import dev.spillway.broker.store.ApiKeyStore;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.Role;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * API keys for applications and CI: {@code spw_<256 random bits>}. Only the SHA-256 of a secret
 * is stored. Verified keys are remembered for {@link #CACHE_TTL}, so a busy client costs one
 * hash and one map lookup per call; a key revoked on this broker is forgotten at once, on
 * another replica within that time. The last-used time is written at most once a minute per key.
 */
@ApplicationScoped
public class ApiKeys {

    public static final String PREFIX = "spw_";
    static final Duration CACHE_TTL = Duration.ofSeconds(10);
    private static final Duration TOUCH_EVERY = Duration.ofMinutes(1);
    private static final int CACHE_MAX = 10_000;
    public static final Pattern TENANT = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?");
    private static final Duration MAX_TTL = Duration.ofDays(3650);
    private static final Logger LOG = Logger.getLogger(ApiKeys.class);

    private record Cached(ApiKeyStore.KeyRow row, Instant loaded) {
    }

    private final ApiKeyStore store;
    private final Clock clock;
    private final Map<String, Cached> verified = new ConcurrentHashMap<>();
    private final Map<UUID, Instant> touched = new ConcurrentHashMap<>();

    public ApiKeys(ApiKeyStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** A new key and its secret (shown once). */
    public record Created(ApiKeyStore.KeyRow key, String secret) {
    }

    public Uni<Created> create(Caller actor, String tenant, String role, Duration ttl, String name, String remote) {
        List<Violation> v = new ArrayList<>();
        if (tenant == null || !TENANT.matcher(tenant).matches()) {
            v.add(new Violation("tenant", "required: letters, digits, '.', '_', '-' and '/', starting and ending with a letter or digit, at most 63"));
        }
        Optional<Role> r = Role.fromLabel(role);
        if (r.isEmpty()) v.add(new Violation("role", "one of admin, operator, finops, submitter, viewer"));
        if (ttl != null && (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0)) {
            v.add(new Violation("ttl", "must be positive and at most 3650 days"));
        }
        if (name != null && name.length() > 100) v.add(new Violation("name", "at most 100 characters"));
        if (!v.isEmpty()) return Uni.createFrom().failure(new InvalidRequest(v));
        String secret = PREFIX + Secrets.random();
        Instant expires = ttl == null ? null : clock.instant().plus(ttl);
        return store.insert(UUID.randomUUID(), Secrets.sha256(secret), secret.substring(0, PREFIX.length() + 4),
                        name == null ? "" : name, tenant, r.get().label(), actor.subject(), expires, remote)
                .map(row -> new Created(row, secret));
    }

    /**
     * Registers an admin key whose secret the operator made ({@code spillway.auth.admin-key-file}),
     * unless its hash is known already (registered by another broker, or revoked: then it stays
     * revoked). True when registered now.
     */
    public Uni<Boolean> registerAdmin(String secret, String tenant, String name) {
        if (!secret.startsWith(PREFIX) || secret.length() < PREFIX.length() + 32 || !secret.chars().allMatch(c -> c > 32 && c < 127)) {
            return Uni.createFrom().failure(new IllegalArgumentException(
                    "an admin key must be spw_ followed by at least 32 printable characters (e.g. spw_$(openssl rand -hex 32))"));
        }
        return store.insertIfAbsent(UUID.randomUUID(), Secrets.sha256(secret), secret.substring(0, PREFIX.length() + 4), name, tenant,
                Role.ADMIN.label(), "system");
    }

    public Uni<List<ApiKeyStore.KeyRow>> list() {
        return store.all();
    }

    public Uni<Void> revoke(UUID id, Caller actor, String remote) {
        return store.revoke(id, actor.subject(), remote).map(found -> {
            if (!found) throw new NotFound(dev.spillway.api.ResourceNames.apiKey(id), "no API key " + id);
            verified.values().removeIf(c -> c.row().id().equals(id));
            return null;
        });
    }

    /** The caller a presented key stands for; fails with Unauthenticated for an unknown, revoked or expired key. */
    public Uni<Caller> authenticate(String secret) {
        String hash = Secrets.sha256(secret);
        Instant now = clock.instant();
        Cached cached = verified.get(hash);
        if (cached != null && cached.loaded().plus(CACHE_TTL).isAfter(now)) {
            return Uni.createFrom().item(() -> caller(cached.row(), now));
        }
        return store.findByHash(hash).map(row -> {
            if (row != null) {
                if (verified.size() >= CACHE_MAX) verified.clear();
                verified.put(hash, new Cached(row, now));
            }
            return caller(row, now);
        });
    }

    private Caller caller(ApiKeyStore.KeyRow row, Instant now) {
        if (row == null) throw new Unauthenticated("unknown API key");
        if (row.revokedAt() != null) throw new Unauthenticated("API key " + row.id() + " was revoked at " + row.revokedAt());
        if (row.expiresAt() != null && !row.expiresAt().toInstant().isAfter(now)) {
            throw new Unauthenticated("API key " + row.id() + " expired at " + row.expiresAt());
        }
        Role role = Role.fromLabel(row.role()).orElseThrow(() -> new Unauthenticated("API key " + row.id() + " has an unknown role"));
        touch(row.id(), now);
        return Caller.of("apikey:" + row.id(), role, row.tenant());
    }

    private void touch(UUID id, Instant now) {
        Instant last = touched.get(id);
        if (last != null && last.plus(TOUCH_EVERY).isAfter(now)) return;
        touched.put(id, now);
        store.touch(id, now).subscribe().with(ok -> { }, e -> LOG.debugf("could not record the last use of API key %s: %s", id, e.getMessage()));
    }
}
