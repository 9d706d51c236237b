package dev.spillway.core.burst;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Desired versus observed for cloud instances: the broker's live records against what the
 * providers list under the cluster tag. Pure; the broker lists first and reads its records
 * second, so an instance listed always had its record written before (records precede launches).
 *
 * <ul>
 *   <li>an instance listed with no live record for its request tag (whatever its pool tag, or
 *       none) is an <b>orphan</b> and is terminated;</li>
 *   <li>a second instance for one record (same request tag, another instance id) is a
 *       <b>duplicate</b> and is terminated at once;</li>
 *   <li>a REQUESTED record whose instance is listed was launched before a restart: it is
 *       <b>adopted</b> with the provider's launch time;</li>
 *   <li>a REQUESTED record with no instance older than {@link #RELAUNCH_AFTER} is launched again
 *       (same idempotency key: no duplicate);</li>
 *   <li>a launched record whose instance the provider lists as terminated is closed at once;
 *       one whose instance is not listed at all is closed once {@link #LIST_GRACE} has passed
 *       since its launch (listings are eventually consistent).</li>
 * </ul>
 * Pools whose listing failed are left alone this round.
 */
public final class Reconciliation {

    static final Duration LIST_GRACE = Duration.ofMinutes(2);
    static final Duration RELAUNCH_AFTER = Duration.ofMinutes(1);

    /** A live record of the broker. */
    public record Record(String id, String pool, String providerInstance, InstanceState state, Instant requestedAt, Instant launchedAt) {
    }

    /**
     * An instance a provider listed.
     *
     * @param listedBy   the pool whose provider listed it (and can terminate it)
     * @param requestTag its request tag (the record id it was launched for); null when missing
     * @param gone       the provider reports it terminated
     */
    public record Listed(String listedBy, String providerInstance, String requestTag, boolean gone, Instant launchTime) {
    }

    public sealed interface Action {
        record TerminateOrphan(String listedBy, String providerInstance, String reason) implements Action {
        }

        record Adopt(String recordId, String providerInstance, Instant launchTime) implements Action {
        }

        record Relaunch(String recordId) implements Action {
        }

        record Close(String recordId, String reason) implements Action {
        }
    }

    private Reconciliation() {}

    /**
     * @param listings what each pool's provider listed; pools whose listing failed are absent
     */
    public static List<Action> decide(List<Record> records, Map<String, List<Listed>> listings, Instant now) {
        Map<String, Record> byId = new HashMap<>();
        records.forEach(r -> byId.put(r.id(), r));
        // One entry per provider instance, even when pools share an account and list it twice.
        Map<String, Listed> instances = new LinkedHashMap<>();
        listings.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> e.getValue().forEach(l -> instances.putIfAbsent(l.providerInstance(), l)));
        Map<String, List<Listed>> byRecord = new HashMap<>();
        Set<String> goneFor = new HashSet<>();
        List<Action> out = new ArrayList<>();
        for (Listed l : instances.values()) {
            if (l.gone()) {
                if (l.requestTag() != null) goneFor.add(l.requestTag());
                continue;
            }
            Record r = l.requestTag() == null ? null : byId.get(l.requestTag());
            if (r == null) {
                out.add(new Action.TerminateOrphan(l.listedBy(), l.providerInstance(), l.requestTag() == null
                        ? "carries the cluster tag but no request tag"
                        : "carries the cluster tag but no live record asked for it (request " + l.requestTag() + ")"));
            } else {
                byRecord.computeIfAbsent(r.id(), k -> new ArrayList<>()).add(l);
            }
        }
        Set<String> seen = new HashSet<>();
        for (Record r : records.stream().sorted(Comparator.comparing(Record::id)).toList()) {
            List<Listed> mine = byRecord.getOrDefault(r.id(), List.of());
            if (!mine.isEmpty()) {
                seen.add(r.id());
                Listed keep = mine.stream().filter(l -> l.providerInstance().equals(r.providerInstance())).findFirst()
                        .orElse(mine.stream().min(Comparator.comparing((Listed l) -> l.launchTime() == null ? Instant.MAX : l.launchTime())
                                .thenComparing(Listed::providerInstance)).orElseThrow());
                for (Listed l : mine) {
                    if (l != keep) out.add(new Action.TerminateOrphan(l.listedBy(), l.providerInstance(),
                            "a duplicate of " + keep.providerInstance() + " for request " + r.id()));
                }
                if (r.state() == InstanceState.REQUESTED) out.add(new Action.Adopt(r.id(), keep.providerInstance(), keep.launchTime()));
                continue;
            }
            if (!listings.containsKey(r.pool())) continue; // could not list: leave it be
            if (r.state() == InstanceState.REQUESTED) {
                if (!now.isBefore(r.requestedAt().plus(RELAUNCH_AFTER))) out.add(new Action.Relaunch(r.id()));
            } else if (goneFor.contains(r.id()) || r.launchedAt() == null || !now.isBefore(r.launchedAt().plus(LIST_GRACE))) {
                out.add(new Action.Close(r.id(), goneReason(r, instances)));
            }
        }
        return out;
    }

    private static String goneReason(Record r, Map<String, Listed> instances) {
        Listed l = r.providerInstance() == null ? null : instances.get(r.providerInstance());
        return l != null && l.gone() || l == null && instances.values().stream().anyMatch(i -> i.gone() && r.id().equals(i.requestTag()))
                ? "the instance went away (terminated in the cloud, e.g. a spot interruption)"
                : "the instance no longer exists";
    }
}
