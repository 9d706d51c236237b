package dev.spillway.core.burst;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Offerings hidden and pools resting because of earlier launch outcomes. Derived from the
 * outcome history alone (no memory between decisions), so a broker restart keeps them.
 *
 * <ul>
 *   <li>An offering that hit a capacity error is hidden for its pool's capacity-error backoff.</li>
 *   <li>An offering whose instances never joined is hidden with exponential backoff: the pool's
 *       capacity-error backoff doubled for each consecutive failure (a join of that offering
 *       resets the count), at most {@link #MAX_HIDE}.</li>
 *   <li>A pool whose last {@code joinFailureLimit} instances all never joined rests for
 *       {@link #JOIN_FAILURE_REST}: the cause is usually the pool's network, not the offering.</li>
 *   <li>A pool whose launch failed on credentials or settings rests for {@link #SETUP_ERROR_REST}.</li>
 * </ul>
 */
final class Holds {

    static final Duration MAX_HIDE = Duration.ofHours(1);
    static final Duration JOIN_FAILURE_REST = Duration.ofMinutes(15);
    static final Duration SETUP_ERROR_REST = Duration.ofMinutes(5);

    /** Something out of use until a time, with why. */
    record Hold(Instant until, String reason) {
    }

    private final Map<String, Hold> offerings = new HashMap<>();
    private final Map<String, Hold> pools = new HashMap<>();

    /**
     * @param history       outcomes in any order
     * @param brokerAddress named in the reason a pool rests after join failures
     */
    static Holds from(List<LaunchOutcome> history, Map<String, CloudPoolSpec> specs, String brokerAddress, Instant now) {
        List<LaunchOutcome> byTime = new ArrayList<>(history);
        byTime.sort(Comparator.comparing(LaunchOutcome::at).thenComparing(LaunchOutcome::offeringId));
        Holds h = new Holds();
        Map<String, Integer> offeringStreak = new HashMap<>();
        Map<String, List<LaunchOutcome>> poolStreak = new HashMap<>();
        for (LaunchOutcome o : byTime) {
            CloudPoolSpec spec = specs.get(o.pool());
            if (spec == null) continue;
            switch (o.kind()) {
                case JOINED -> {
                    offeringStreak.remove(o.offeringId());
                    poolStreak.remove(o.pool());
                    h.offerings.remove(o.offeringId());
                }
                case NO_CAPACITY -> h.hideOffering(o.offeringId(), o.at().plus(spec.capacityErrorBackoff()),
                        "no capacity: " + o.message());
                case SETUP_ERROR -> h.rest(o.pool(), o.at().plus(SETUP_ERROR_REST), o.message());
                case NEVER_JOINED -> {
                    int k = offeringStreak.merge(o.offeringId(), 1, Integer::sum);
                    h.hideOffering(o.offeringId(), o.at().plus(joinBackoff(spec, k)),
                            k + " instance(s) in a row never joined");
                    List<LaunchOutcome> streak = poolStreak.computeIfAbsent(o.pool(), p -> new ArrayList<>());
                    streak.add(o);
                    if (streak.size() >= spec.joinFailureLimit()) {
                        long minutes = Math.max(1, (Duration.between(streak.get(0).at(), now).toSeconds() + 59) / 60);
                        h.rest(o.pool(), o.at().plus(JOIN_FAILURE_REST), String.format(java.util.Locale.ROOT,
                                "%d instances launched in the last %d min never joined: check that instances can reach %s",
                                streak.size(), minutes, brokerAddress));
                    }
                }
            }
        }
        h.offerings.values().removeIf(hold -> !hold.until().isAfter(now));
        h.pools.values().removeIf(hold -> !hold.until().isAfter(now));
        return h;
    }

    /** How long an offering stays hidden after its {@code k}-th consecutive instance that never joined. */
    static Duration joinBackoff(CloudPoolSpec spec, int k) {
        Duration d = spec.capacityErrorBackoff();
        for (int i = 1; i < k && d.compareTo(MAX_HIDE) < 0; i++) d = d.multipliedBy(2);
        return d.compareTo(MAX_HIDE) > 0 ? MAX_HIDE : d;
    }

    private void hideOffering(String offeringId, Instant until, String reason) {
        Hold current = offerings.get(offeringId);
        if (current == null || until.isAfter(current.until())) offerings.put(offeringId, new Hold(until, reason));
    }

    private void rest(String pool, Instant until, String reason) {
        Hold current = pools.get(pool);
        if (current == null || until.isAfter(current.until())) pools.put(pool, new Hold(until, reason));
    }

    /** When the first hold ends; null when nothing is held. */
    Instant earliestEnd() {
        Instant first = null;
        for (Hold h : offerings.values()) if (first == null || h.until().isBefore(first)) first = h.until();
        for (Hold h : pools.values()) if (first == null || h.until().isBefore(first)) first = h.until();
        return first;
    }

    Hold offering(String offeringId) {
        return offerings.get(offeringId);
    }

    Hold pool(String pool) {
        return pools.get(pool);
    }
}
