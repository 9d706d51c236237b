package dev.spillway.core.burst;

import dev.spillway.core.burst.PlanningProblem.Bin;
import dev.spillway.core.scheduling.Resources;
import java.util.ArrayList;
import java.util.List;

/**
 * The last step of every packing candidate: swaps each instance for the cheapest offering of the
 * same pool that still holds its load and suits all its tasks (typically the last, partly filled
 * instance of a repeated load). Never adds instances or spend, so every limit still holds.
 */
final class RightSizing {

    private final PlanningProblem p;

    RightSizing(PlanningProblem p) {
        this.p = p;
    }

    /** The same instances with the same tasks, each on the cheapest offering that suits it; unchanged bins are returned as they are. */
    List<Bin> apply(List<Bin> bins) {
        List<Bin> out = new ArrayList<>(bins.size());
        for (Bin b : bins) {
            long cpu = b.offering.shape().cpuMillis() - b.cpu;
            long mem = b.offering.shape().memoryMib() - b.mem;
            int gpu = b.offering.shape().gpus() - b.gpu;
            Resources load = new Resources(cpu, mem, gpu);
            Offering best = b.offering;
            for (Offering o : p.offerings) {
                if (!o.pool().equals(b.offering.pool()) || o.priceUsdPerHour() >= best.priceUsdPerHour() || !o.shape().covers(load)) continue;
                boolean suits = true;
                for (Demand d : b.tasks) suits &= d.mayUse(o);
                if (suits) best = o;
            }
            if (best == b.offering) {
                out.add(b);
            } else {
                Bin smaller = new Bin(best);
                b.tasks.forEach(smaller::add);
                out.add(smaller);
            }
        }
        return out;
    }
}
