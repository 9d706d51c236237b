package dev.spillway.broker.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * API keys by the SHA-256 hash of their secret (never the secret). Creating and revoking a key
 * writes its audit event in the same statement.
 */
@ApplicationScoped
public class ApiKeyStore {

    private static final String COLUMNS = "id, prefix, name, tenant, role, created_by, created_at, expires_at, revoked_at, last_used_at";

    private final Pool pool;

    public ApiKeyStore(Pool pool) {
        this.pool = pool;
    }

    public record KeyRow(UUID id, String prefix, String name, String tenant, String role, String createdBy, OffsetDateTime createdAt,
                         OffsetDateTime expiresAt, OffsetDateTime revokedAt, OffsetDateTime lastUsedAt) {
    }

    /** Stores a new key and its {@code apikey.create} audit event, atomically. */
    public Uni<KeyRow> insert(UUID id, String secretHash, String prefix, String name, String tenant, String role, String createdBy,
                              Instant expires, String remote) {
        return pool.preparedQuery("""
                WITH k AS (
                  INSERT INTO api_key (id, secret_hash, prefix, name, tenant, role, created_by, expires_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                  RETURNING %s),
                a AS (
                  INSERT INTO audit_event (actor, tenant, action, target, detail, remote)
                  SELECT created_by, tenant, 'apikey.create', id::text, 'role ' || role || coalesce(', expires ' || expires_at, ''), $9 FROM k)
                SELECT * FROM k""".formatted(COLUMNS))
                .execute(Tuple.from(new Object[] {id, secretHash, prefix, name, tenant, role, createdBy,
                        expires == null ? null : expires.atOffset(ZoneOffset.UTC), remote}))
                .map(rows -> row(rows.iterator().next()));
    }

    /** Inserts a key unless one with this secret hash exists (whatever its state); true when inserted. */
    public Uni<Boolean> insertIfAbsent(UUID id, String secretHash, String prefix, String name, String tenant, String role, String createdBy) {
        return pool.preparedQuery("""
                WITH k AS (
                  INSERT INTO api_key (id, secret_hash, prefix, name, tenant, role, created_by)
                  VALUES ($1, $2, $3, $4, $5, $6, $7)
                  ON CONFLICT (secret_hash) DO NOTHING
                  RETURNING id, tenant, role, created_by),
                a AS (
                  INSERT INTO audit_event (actor, tenant, action, target, detail)
                  SELECT created_by, tenant, 'apikey.create', id::text, 'role ' || role || ', from the configured admin key file' FROM k)
                SELECT count(*) AS n FROM k""")
                .execute(Tuple.from(new Object[] {id, secretHash, prefix, name, tenant, role, createdBy}))
                .map(rows -> rows.iterator().next().getLong("n") == 1);
    }

    /** The key with this secret hash, whatever its state (the caller decides what revoked or expired means). */
    public Uni<KeyRow> findByHash(String secretHash) {
        return pool.preparedQuery("SELECT " + COLUMNS + " FROM api_key WHERE secret_hash = $1")
                .execute(Tuple.of(secretHash))
                .map(rows -> rows.size() == 0 ? null : row(rows.iterator().next()));
    }

    public Uni<List<KeyRow>> all() {
        return pool.query("SELECT " + COLUMNS + " FROM api_key ORDER BY created_at DESC, id").execute().map(rows -> {
            List<KeyRow> out = new ArrayList<>();
            for (Row r : rows) out.add(row(r));
            return out;
        });
    }

    /** Revokes a key and records who did; false for an unknown key. Revoking a revoked key changes nothing but is not an error. */
    public Uni<Boolean> revoke(UUID id, String actor, String remote) {
        return pool.preparedQuery("""
                WITH k AS (
                  UPDATE api_key SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id, tenant),
                a AS (
                  INSERT INTO audit_event (actor, tenant, action, target, remote)
                  SELECT $2, tenant, 'apikey.revoke', id::text, $3 FROM k)
                SELECT count(*) AS n FROM k""")
                .execute(Tuple.of(id, actor, remote))
                .map(rows -> rows.iterator().next().getLong("n") > 0);
    }

    public Uni<Void> touch(UUID id, Instant at) {
        return pool.preparedQuery("UPDATE api_key SET last_used_at = $2 WHERE id = $1")
                .execute(Tuple.of(id, at.atOffset(ZoneOffset.UTC))).replaceWithVoid();
    }

    private static KeyRow row(Row r) {
        return new KeyRow(r.getUUID("id"), r.getString("prefix"), r.getString("name"), r.getString("tenant"), r.getString("role"),
                r.getString("created_by"), r.getOffsetDateTime("created_at"), r.getOffsetDateTime("expires_at"),
                r.getOffsetDateTime("revoked_at"), r.getOffsetDateTime("last_used_at"));
    }
}
