package dev.spillway.policies.quota;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Who goes first when demand exceeds capacity: weighted dominant resource share (DRS), as Kueue's
 * fair sharing orders the heads of its ClusterQueues (concept "Preemption", section "Fair
 * Sharing": "Kueue prefers to admit Workloads from ClusterQueues that have the lowest share value
 * first").
 *
 * <p>The order of waiting workloads is: the share their tenant would have with the workload
 * admitted in its first flavor the tenant has quota in (lower first; work within nominal quota has
 * share 0 and so goes before borrowing work), then priority (higher first), then age (older
 * first), then id. Unlike {@code core}'s FairQueue, which orders by priority before tenants, the
 * share comes first: a high priority lets work overtake its own tenant's work, not take more than
 * a fair share of what the cohort lends.
 */
public final class FairShare {

    private FairShare() {
    }

    /** A waiting workload with the share its tenant would have once it is admitted. */
    public record Ranked(Workload workload, Share share) {
    }

    /** The workloads in the order a cycle should try them (unknown tenants last, by the same ties). */
    public static List<Ranked> order(QuotaState state, List<Workload> waiting) {
        List<Ranked> ranked = new ArrayList<>(waiting.size());
        for (Workload w : waiting) ranked.add(new Ranked(w, shareWith(state, w)));
        ranked.sort(ORDER);
        return ranked;
    }

    static final Comparator<Ranked> ORDER = Comparator.comparing(Ranked::share)
            .thenComparing(r -> -(long) r.workload().priority())
            .thenComparingLong(r -> r.workload().createdMillis())
            .thenComparing(r -> r.workload().id());

    /** The tenant's share with the whole workload admitted in its first flavor the tenant lists. */
    public static Share shareWith(QuotaState state, Workload w) {
        int t = state.tenantIndex(w.tenant());
        if (t < 0) return Share.INFINITE;
        for (Workload.FlavorRequest option : w.options()) {
            int f = state.flavorIndex(option.flavor());
            if (f >= 0 && state.lists(t, f)) return state.share(t, f, option.perTask().times(w.tasks()));
        }
        return state.share(t, -1, Amounts.ZERO);
    }

    /** Tenants by their share now, lowest first (ties by name): who is furthest below its fair share. */
    public static List<String> tenantsByShare(QuotaState state) {
        List<Integer> idx = new ArrayList<>();
        for (int t = 0; t < state.tenantCount(); t++) idx.add(t);
        List<Share> shares = new ArrayList<>();
        for (int t = 0; t < state.tenantCount(); t++) shares.add(state.share(t, -1, Amounts.ZERO));
        idx.sort(Comparator.<Integer, Share>comparing(shares::get).thenComparing(state::tenantName));
        List<String> out = new ArrayList<>(idx.size());
        for (int t : idx) out.add(state.tenantName(t));
        return out;
    }

    /**
     * A cycle's queue with fair share among the tenants that have quotas: within each priority
     * level, the places their tasks hold in {@code queue} (ranked by the core's turn-taking) are
     * dealt out again in fair-share order: the jobs whose tenant would have the lowest share with
     * them admitted first ({@link #shareWith}), then the oldest. Tasks of tenants without a quota
     * keep their places, and priority still comes first, as everywhere in Spillway.
     *
     * @param queue      the cycle's tasks, ranked
     * @param workloadOf a job's waiting work in this cycle (its read tasks), by job id; null for a job whose tenant has no quota
     */
    public static List<dev.spillway.core.scheduling.PendingTask> rerank(List<dev.spillway.core.scheduling.PendingTask> queue, QuotaState state,
                                                                        java.util.function.Function<String, Workload> workloadOf) {
        java.util.Map<String, Share> shares = new java.util.HashMap<>();
        java.util.Map<String, Workload> workloads = new java.util.HashMap<>();
        java.util.Map<Integer, List<Integer>> governedByLevel = new java.util.TreeMap<>();
        for (int i = 0; i < queue.size(); i++) {
            String job = queue.get(i).ref().jobId();
            Workload w = workloads.computeIfAbsent(job, workloadOf::apply);
            if (w == null || state.tenantIndex(w.tenant()) < 0) continue;
            shares.computeIfAbsent(job, j -> shareWith(state, w));
            governedByLevel.computeIfAbsent(queue.get(i).priority(), p -> new ArrayList<>()).add(i);
        }
        if (governedByLevel.isEmpty()) return queue;
        List<dev.spillway.core.scheduling.PendingTask> out = new ArrayList<>(queue);
        for (List<Integer> positions : governedByLevel.values()) {
            List<Integer> ranks = new ArrayList<>(positions.size());
            for (int i : positions) ranks.add(queue.get(i).rank());
            ranks.sort(null);
            List<Integer> order = new ArrayList<>(positions);
            order.sort(Comparator.<Integer, Share>comparing(i -> shares.get(queue.get(i).ref().jobId()))
                    .thenComparingLong(i -> workloads.get(queue.get(i).ref().jobId()).createdMillis())
                    .thenComparing(i -> queue.get(i).ref().jobId())
                    .thenComparing(i -> queue.get(i).rank())
                    .thenComparing(i -> queue.get(i).ref()));
            for (int k = 0; k < order.size(); k++) {
                int i = order.get(k);
                out.set(i, queue.get(i).withRank(ranks.get(k)));
            }
        }
        return out;
    }
}
