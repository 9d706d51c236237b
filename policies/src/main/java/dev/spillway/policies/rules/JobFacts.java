package dev.spillway.policies.rules;

import dev.spillway.core.scheduling.Resources;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What rules may know about a job ({@code job} in CEL).
 *
 * @param perTask          resources one task asks for
 * @param datasets         names of the datasets it reads ({@code Dataset} documents)
 * @param jurisdictions    legal areas the job itself asks for; empty means any
 * @param estimatedCostUsd the broker's estimate of what the job will cost; 0 while none is made
 */
public record JobFacts(String name, String tenant, String queue, int priority, Map<String, String> labels, int tasks,
                       Resources perTask, List<String> datasets, Set<String> jurisdictions, double estimatedCostUsd) {

    public JobFacts {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tenant, "tenant");
        queue = queue == null ? "" : queue;
        labels = Map.copyOf(labels);
        Objects.requireNonNull(perTask, "perTask");
        datasets = List.copyOf(datasets);
        jurisdictions = Set.copyOf(jurisdictions);
    }

    /** A job with no labels, datasets, jurisdictions or estimate. */
    public static JobFacts of(String name, String tenant, int priority, int tasks, Resources perTask) {
        return new JobFacts(name, tenant, "", priority, Map.of(), tasks, perTask, List.of(), Set.of(), 0);
    }

    public JobFacts withLabels(Map<String, String> newLabels) {
        return new JobFacts(name, tenant, queue, priority, newLabels, tasks, perTask, datasets, jurisdictions, estimatedCostUsd);
    }

    public JobFacts withDatasets(List<String> newDatasets) {
        return new JobFacts(name, tenant, queue, priority, labels, tasks, perTask, newDatasets, jurisdictions, estimatedCostUsd);
    }
}
