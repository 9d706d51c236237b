package dev.spillway.policies.quota;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * Work that asks for quota: a job's queued tasks, all alike.
 *
 * @param tasks         how many tasks ask (at least 1)
 * @param options       the flavors the tasks may use, in the order the tenant prefers them, each
 *                      with what one task reserves there (the spend differs between flavors)
 * @param allOrNothing  whether the tasks must be admitted together in one flavor (a gang);
 *                      otherwise admitting some of them now is worth it (Spillway's tasks are
 *                      independent)
 * @param createdMillis when the job was submitted (older first among equals)
 */
public record Workload(String id, String tenant, int priority, long createdMillis, int tasks,
                       List<FlavorRequest> options, boolean allOrNothing) {

    /**
     * What one task reserves in a flavor.
     *
     * @param perTask the task's cpu, memory and gpus, and the spend it is expected to cost per
     *                hour in that flavor (zero on-prem, the offering's price in the cloud)
     */
    public record FlavorRequest(String flavor, Amounts perTask) {
    }

    public Workload {
        if (id == null || tenant == null) throw new IllegalArgumentException("a workload needs an id and a tenant");
        if (tasks < 1) throw new IllegalArgumentException("workload " + id + " asks for " + tasks + " tasks");
        if (options == null || options.isEmpty()) throw new IllegalArgumentException("workload " + id + " may use no flavor");
        options = List.copyOf(options);
        if (new HashSet<>(options.stream().map(FlavorRequest::flavor).toList()).size() != options.size()) {
            throw new IllegalArgumentException("workload " + id + " lists a flavor twice");
        }
    }

    /** Tasks that reserve the same amounts in every flavor they may use. */
    /** Waiting work of a job whose every task asks {@code perTask}, in {@code flavors} in the tenant's order. */
    public static Workload of(String id, String tenant, int priority, long createdMillis, int tasks, Amounts perTask, List<String> flavors) {
        List<FlavorRequest> options = new ArrayList<>();
        for (String f : flavors) options.add(new FlavorRequest(f, perTask));
        return new Workload(id, tenant, priority, createdMillis, tasks, options, false);
    }

    public static Workload of(String id, String tenant, int priority, int tasks, Amounts perTask, String... flavors) {
        List<FlavorRequest> options = new ArrayList<>();
        for (String f : flavors) options.add(new FlavorRequest(f, perTask));
        return new Workload(id, tenant, priority, 0, tasks, options, false);
    }

    public Workload withAllOrNothing(boolean allOrNothing) {
        return new Workload(id, tenant, priority, createdMillis, tasks, options, allOrNothing);
    }

    public Workload withCreatedMillis(long createdMillis) {
        return new Workload(id, tenant, priority, createdMillis, tasks, options, allOrNothing);
    }

    public Workload withTasks(int tasks) {
        return new Workload(id, tenant, priority, createdMillis, tasks, options, allOrNothing);
    }
}
