package dev.spillway.broker.store;

import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Versions of the policy set (table {@code policy_version}): each apply inserts the whole set of
 * files as the next version; nothing is ever updated. The highest version is the one in force.
 */
@ApplicationScoped
public class PolicyStore {

    private final Pool pool;

    public PolicyStore(Pool pool) {
        this.pool = pool;
    }

    /** One policy file as it was applied. */
    public record File(String name, String text) {
    }

    /**
     * A stored version; {@code files} is empty when it was listed without them.
     *
     * @param summary counts of what the set holds, by kind (e.g. {@code admissionRules})
     */
    public record Version(long version, String digest, String appliedBy, OffsetDateTime appliedAt, String comment,
                          Map<String, Integer> summary, List<File> files) {
    }

    /** What an apply stored: the version now in force, and whether it is new (false: the same files were in force already). */
    public record Applied(Version version, boolean changed) {
    }

    /**
     * Stores {@code files} as the next version unless the version in force has the same digest.
     * Applies are serialised (a table lock held to the commit), so versions are gap-free and each
     * one's predecessor is the set its author replaced.
     */
    public Uni<Applied> apply(String digest, List<File> files, String appliedBy, String comment, Map<String, Integer> summary) {
        JsonArray json = new JsonArray();
        for (File f : files) json.add(new JsonObject().put("name", f.name()).put("text", f.text()));
        JsonObject counts = new JsonObject();
        summary.forEach(counts::put);
        return pool.withTransaction(tx -> tx.query("LOCK TABLE policy_version IN SHARE ROW EXCLUSIVE MODE").execute()
                .flatMap(locked -> tx.query("SELECT version, digest, applied_by, applied_at, comment, summary, files FROM policy_version "
                        + "ORDER BY version DESC LIMIT 1").execute())
                .flatMap(rows -> {
                    Version current = rows.size() == 0 ? null : version(rows.iterator().next(), true);
                    if (current != null && current.digest().equals(digest)) return Uni.createFrom().item(new Applied(current, false));
                    long next = current == null ? 1 : current.version() + 1;
                    return tx.preparedQuery("""
                                    INSERT INTO policy_version (version, digest, files, applied_by, comment, summary)
                                    VALUES ($1, $2, $3, $4, $5, $6)
                                    RETURNING version, digest, applied_by, applied_at, comment, summary, files""")
                            .execute(Tuple.of(next, digest, json, appliedBy, comment, counts))
                            .map(inserted -> new Applied(version(inserted.iterator().next(), true), true));
                }));
    }

    /** The number of the version in force; 0 when none was ever applied. */
    public Uni<Long> currentVersion() {
        return pool.query("SELECT coalesce(max(version), 0) AS v FROM policy_version").execute()
                .map(rows -> rows.iterator().next().getLong("v"));
    }

    /** The version in force, with its files; null when none was ever applied. */
    public Uni<Version> current() {
        return pool.query("SELECT version, digest, applied_by, applied_at, comment, summary, files FROM policy_version "
                        + "ORDER BY version DESC LIMIT 1").execute()
                .map(rows -> rows.size() == 0 ? null : version(rows.iterator().next(), true));
    }

    /** One version with its files; null when there is no such version. */
    public Uni<Version> get(long version) {
        return pool.preparedQuery("SELECT version, digest, applied_by, applied_at, comment, summary, files FROM policy_version WHERE version = $1")
                .execute(Tuple.of(version))
                .map(rows -> rows.size() == 0 ? null : version(rows.iterator().next(), true));
    }

    /** The newest {@code limit} versions, newest first, without their files. */
    /** Versions newest first, below {@code before} (0: from the newest). */
    public Uni<List<Version>> list(int limit, long before) {
        return pool.preparedQuery("SELECT version, digest, applied_by, applied_at, comment, summary FROM policy_version "
                        + "WHERE ($2::bigint = 0 OR version < $2) ORDER BY version DESC LIMIT $1")
                .execute(Tuple.of(limit, before))
                .map(rows -> {
                    List<Version> out = new ArrayList<>();
                    for (Row r : rows) out.add(version(r, false));
                    return out;
                });
    }

    private static Version version(Row r, boolean withFiles) {
        Map<String, Integer> summary = new TreeMap<>();
        JsonObject counts = (JsonObject) r.getValue("summary");
        for (String k : counts.fieldNames()) summary.put(k, counts.getInteger(k));
        List<File> files = new ArrayList<>();
        if (withFiles) {
            JsonArray json = (JsonArray) r.getValue("files");
            for (int i = 0; i < json.size(); i++) {
                JsonObject f = json.getJsonObject(i);
                files.add(new File(f.getString("name"), f.getString("text")));
            }
        }
        return new Version(r.getLong("version"), r.getString("digest"), r.getString("applied_by"), r.getOffsetDateTime("applied_at"),
                r.getString("comment"), summary, files);
    }
}
