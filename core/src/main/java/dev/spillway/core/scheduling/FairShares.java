package dev.spillway.core.scheduling;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Each tenant's share of the cluster next to its fair share, for the overview of the queue. Pure:
 * no I/O, no clock.
 *
 * <p>A tenant's <em>share</em> is its dominant share: the larger of its fractions of the
 * capacity's CPU and memory that its running tasks hold. Its <em>fair share</em> is what a
 * max-min fair split of the whole cluster would give it, by dominant share, given what it holds
 * and asks for (running plus queued): tenants wanting less than an equal part get what they want,
 * and what they leave is split equally among the others, as the scheduling cycle's round-robin
 * across tenants tends to (see {@link FairQueue}). With capacity to spare, every tenant's fair share
 * is its whole demand.
 */
public final class FairShares {

    private FairShares() {
    }

    /** What a tenant holds and what its queued tasks ask for. */
    public record Demand(String tenant, Resources allocated, Resources queued) {
    }

    /** A tenant's dominant share and fair share, each from 0 to 1. */
    public record Share(String tenant, double share, double fairShare) {
    }

    /** The shares of {@code demands} in {@code capacity}, by tenant name; all 0 when there is no capacity. */
    public static Map<String, Share> of(Resources capacity, List<Demand> demands) {
        Map<String, Share> out = new LinkedHashMap<>();
        List<Demand> byTenant = new ArrayList<>(demands);
        byTenant.sort(Comparator.comparing(Demand::tenant));
        if (capacity.cpuMillis() <= 0 || capacity.memoryMib() <= 0) {
            byTenant.forEach(d -> out.put(d.tenant(), new Share(d.tenant(), 0, 0)));
            return out;
        }
        // Water-filling over the dominant share each tenant wants, smallest first.
        List<Demand> bySize = new ArrayList<>(byTenant);
        bySize.sort(Comparator.comparingDouble((Demand d) -> dominant(wanted(d), capacity)).thenComparing(Demand::tenant));
        Map<String, Double> fair = new LinkedHashMap<>();
        double left = 1.0;
        for (int i = 0; i < bySize.size(); i++) {
            Demand d = bySize.get(i);
            double equalPart = left / (bySize.size() - i);
            double granted = Math.min(dominant(wanted(d), capacity), equalPart);
            fair.put(d.tenant(), granted);
            left -= granted;
        }
        for (Demand d : byTenant) {
            out.put(d.tenant(), new Share(d.tenant(), Math.min(1.0, dominant(d.allocated(), capacity)), fair.get(d.tenant())));
        }
        return out;
    }

    private static Resources wanted(Demand d) {
        return d.allocated().plus(d.queued());
    }

    private static double dominant(Resources r, Resources capacity) {
        return Math.max((double) r.cpuMillis() / capacity.cpuMillis(), (double) r.memoryMib() / capacity.memoryMib());
    }
}
