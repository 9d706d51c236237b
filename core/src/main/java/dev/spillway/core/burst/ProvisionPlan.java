package dev.spillway.core.burst;

import dev.spillway.core.scheduling.TaskRef;
import java.util.List;
import java.util.Map;

/**
 * What to launch: one entry per instance with the tasks it is meant for, and, for every task
 * left out, why.
 */
public record ProvisionPlan(List<Instance> instances, Map<TaskRef, String> notCovered) {

    /** One instance to launch and the tasks it is sized for. */
    public record Instance(Offering offering, List<TaskRef> tasks) {
        public Instance {
            tasks = List.copyOf(tasks);
        }
    }

    public ProvisionPlan {
        instances = List.copyOf(instances);
        notCovered = Map.copyOf(notCovered);
    }

    public double costUsdPerHour() {
        double sum = 0;
        for (Instance i : instances) sum += i.offering().priceUsdPerHour();
        return sum;
    }

    public int coveredTasks() {
        int n = 0;
        for (Instance i : instances) n += i.tasks().size();
        return n;
    }
}
