package dev.spillway.policies.document;

import java.time.DayOfWeek;
import java.time.Duration;
import java.time.LocalTime;
import java.util.List;
import java.util.Set;

/**
 * {@code kind: Policy}: rules whose conditions are CEL expressions, in four lists.
 * Expressions are kept as written (with their place in the file); they are compiled and
 * type-checked when the set is applied.
 */
public record PolicyDoc(String name, Location at, List<AdmissionRule> admission, List<FilterRule> filters,
                        List<ScorerRule> scorers, List<BurstRule> burst) implements Document {

    public PolicyDoc {
        admission = List.copyOf(admission);
        filters = List.copyOf(filters);
        scorers = List.copyOf(scorers);
        burst = List.copyOf(burst);
    }

    @Override
    public String kind() {
        return "Policy";
    }

    /** What a matching admission rule does to a job. */
    public enum Action {
        /** Refuse the job. */
        DENY("Deny"),
        /** Accept it and tell the submitter. */
        WARN("Warn"),
        /** Accept it and record the match for operators. */
        AUDIT("Audit");

        private final String spelling;

        Action(String spelling) {
            this.spelling = spelling;
        }

        public String spelling() {
            return spelling;
        }
    }

    /** Whether a placement veto can be lifted by waiting (the core's {@code Veto.Kind}). */
    public enum VetoKind {
        STATIC("Static"),
        TRANSIENT("Transient");

        private final String spelling;

        VetoKind(String spelling) {
            this.spelling = spelling;
        }

        public String spelling() {
            return spelling;
        }
    }

    /**
     * An admission rule: when {@code match} holds for a job, {@code action} applies with {@code message}.
     * Variables: {@code job}, {@code tenant}, {@code now}.
     */
    public record AdmissionRule(String name, Location at, Expression match, Expression message, Action action) {
    }

    /**
     * A placement filter: when {@code match} holds for a task on a node, the node is vetoed.
     * Variables: {@code job}, {@code task}, {@code node}, {@code tenant}, {@code now}.
     */
    public record FilterRule(String name, Location at, Expression match, Expression message, VetoKind veto) {
    }

    /**
     * A placement scorer: {@code score} (int or double, clamped to [0, 1]) ranks feasible nodes,
     * weighted by {@code weight} against the other scorers. Same variables as filters.
     */
    public record ScorerRule(String name, Location at, Expression score, double weight) {
    }

    /**
     * A burst rule governs the jobs {@code match} selects (every job when absent). An offering is
     * allowed for such a job only if it passes every limit given here and {@code deny} does not hold.
     * Variables: {@code job}, {@code task}, {@code tenant}, {@code offering}, {@code now} ({@code match}:
     * no {@code offering}).
     *
     * @param pools            allowed cloud pools; empty means any
     * @param regions          allowed regions; empty means any
     * @param instanceFamilies allowed instance families (the part of the type before the first dot, e.g. {@code m6i}); empty means any
     * @param spotOnly         only spot offerings
     * @param maxUsdPerHour    price cap per instance; null means none
     * @param windows          when bursting is allowed (UTC); empty means always
     * @param burstAfter       how long a task that waiting could help must wait before it may burst; null leaves the pool's own
     * @param deny             an extra refusal condition over the offering; null when absent
     * @param message          the reason given when {@code deny} refuses; null gives a generic one
     */
    public record BurstRule(String name, Location at, Expression match, Set<String> pools, Set<String> regions,
                            Set<String> instanceFamilies, boolean spotOnly, Double maxUsdPerHour, List<TimeWindow> windows,
                            Duration burstAfter, Expression deny, Expression message) {
        public BurstRule {
            pools = Set.copyOf(pools);
            regions = Set.copyOf(regions);
            instanceFamilies = Set.copyOf(instanceFamilies);
            windows = List.copyOf(windows);
        }
    }

    /** Days and a time range, UTC; {@code from} inclusive, {@code to} exclusive; {@code to} before {@code from} wraps past midnight. */
    public record TimeWindow(Set<DayOfWeek> days, LocalTime from, LocalTime to) {
        public TimeWindow {
            days = Set.copyOf(days);
        }

        public boolean contains(DayOfWeek day, LocalTime time) {
            if (!from.isAfter(to)) return days.contains(day) && !time.isBefore(from) && time.isBefore(to);
            // wraps: the part after midnight belongs to the window that started the day before
            if (!time.isBefore(from)) return days.contains(day);
            return time.isBefore(to) && days.contains(day.minus(1));
        }
    }
}
