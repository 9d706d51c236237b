package dev.spillway.core.scheduling;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * Which queued work a scheduling cycle looks at, and in what order: by priority (higher first),
 * then round-robin across tenants, then by age. Pure: no I/O, no clock.
 *
 * <p>A cycle never reads the whole queue. The broker keeps a count of queued tasks per job, so
 * it knows the jobs with work without reading their tasks; {@link #allocate} decides how many
 * tasks to read from each (a budget shared level by level, tenant by tenant), and {@link #rank}
 * interleaves what was read so that the scheduler, taking tasks in rank order, serves tenants in
 * turn: with one tenant's 200,000 tasks queued, another tenant's new job gets every other
 * placement, not the leftovers.
 */
public final class FairQueue {

    private FairQueue() {
    }

    /**
     * A job with queued tasks.
     *
     * @param createdMillis when the job was submitted (older first within a tenant)
     * @param queued        how many of its tasks are queued
     */
    public record Job(String id, String tenant, int priority, long createdMillis, int queued) {
    }

    /** Within a tenant: older jobs first, then by id (deterministic). */
    static final Comparator<Job> AGE = Comparator.comparingLong(Job::createdMillis).thenComparing(Job::id);

    /**
     * How many queued tasks to read from each job: at most {@code budget} in all, at most
     * {@code cap} of each job. Priority levels are served in turn, highest first; within a level
     * the rest of the budget is shared equally among its tenants (one needing less leaves the
     * difference to the others), and each tenant's share goes to its oldest jobs first.
     *
     * @param cap how many of a job's tasks are worth reading (at most its queued count)
     * @return jobs given a positive number, in no particular order
     */
    public static Map<String, Integer> allocate(List<Job> jobs, int budget, ToIntFunction<Job> cap) {
        Map<String, Integer> out = new HashMap<>();
        int remaining = budget;
        for (Map<String, List<Job>> level : levels(jobs).values()) {
            if (remaining <= 0) break;
            // Water-filling: tenants by demand, smallest first, each taking min(demand, fair share of what is left).
            List<Map.Entry<String, Long>> demands = new ArrayList<>();
            level.forEach((tenant, js) -> demands.add(Map.entry(tenant, js.stream().mapToLong(j -> Math.max(0, Math.min(cap.applyAsInt(j), j.queued()))).sum())));
            demands.sort(Map.Entry.<String, Long>comparingByValue().thenComparing(Map.Entry.comparingByKey()));
            for (int i = 0; i < demands.size() && remaining > 0; i++) {
                long share = Math.max(1, remaining / (demands.size() - i));
                long grant = Math.min(demands.get(i).getValue(), share);
                remaining -= (int) grant;
                for (Job j : level.get(demands.get(i).getKey())) {
                    if (grant <= 0) break;
                    int take = (int) Math.min(grant, Math.max(0, Math.min(cap.applyAsInt(j), j.queued())));
                    if (take > 0) out.put(j.id(), take);
                    grant -= take;
                }
            }
        }
        return out;
    }

    /**
     * Each job's cap for {@link #allocate} from an allowance its tenant's jobs of one group (a task
     * shape) share: what is worth reading of a shape is what the nodes could take now plus a
     * look-ahead, whether one job of a tenant holds those tasks or a thousand do. A tenant's jobs of
     * a group, in the order {@code allocate} serves them (priority, then age), each take what they
     * can of what is left. So a cycle reads O(tenants × shapes) tasks, not one per job: with 2,000
     * queued single-task jobs and three free slots it reads a few tasks, not 2,000. Each tenant
     * has the whole allowance, so one tenant's old jobs never take another's turn.
     *
     * @param group     a job's group (its tasks' shape)
     * @param allowance how many tasks of a group are worth reading, per tenant
     * @return every job's cap (0: nothing of it is worth reading this cycle)
     */
    public static <G> Map<String, Integer> sharedCaps(List<Job> jobs, Function<Job, G> group, ToIntFunction<G> allowance) {
        List<Job> order = new ArrayList<>(jobs);
        order.sort(Comparator.comparingInt(Job::priority).reversed().thenComparing(AGE));
        Map<G, Integer> allowances = new HashMap<>();
        Map<Map.Entry<String, G>, Long> left = new HashMap<>();
        Map<String, Integer> caps = new HashMap<>();
        for (Job j : order) {
            G g = group.apply(j);
            long room = left.computeIfAbsent(Map.entry(j.tenant(), g), k -> (long) Math.max(0, allowances.computeIfAbsent(g, allowance::applyAsInt)));
            int cap = (int) Math.min(room, Math.max(0, j.queued()));
            caps.put(j.id(), cap);
            left.put(Map.entry(j.tenant(), g), room - cap);
        }
        return caps;
    }

    /**
     * The tasks read, ranked for {@link Scheduler#QUEUE_ORDER}: within a priority level, a
     * tenant's n-th task (its jobs by age, each job's tasks in the order read) gets rank
     * {@code running + n}, where {@code running} counts the tenant's tasks on nodes now. So tenants
     * alternate, and one that holds less of the cluster goes first: a tenant with 200 tasks
     * running and 200,000 queued waits while another's first task takes the next free slot.
     *
     * @param read    each job's tasks in queue order, keyed by job id
     * @param running each tenant's tasks on nodes now (absent: none)
     */
    public static List<PendingTask> rank(List<Job> jobs, Map<String, List<PendingTask>> read, Map<String, Long> running) {
        List<PendingTask> out = new ArrayList<>();
        for (Map<String, List<Job>> level : levels(jobs).values()) {
            for (Map.Entry<String, List<Job>> tenant : level.entrySet()) {
                List<Job> tenantJobs = tenant.getValue();
                int rank = (int) Math.min(Integer.MAX_VALUE / 2, running.getOrDefault(tenant.getKey(), 0L));
                for (Job j : tenantJobs) {
                    for (PendingTask t : read.getOrDefault(j.id(), List.of())) out.add(t.withRank(rank++));
                }
            }
        }
        return out;
    }

    /** Priority levels, highest first; each tenant's jobs oldest first, tenants by name. */
    private static TreeMap<Integer, Map<String, List<Job>>> levels(List<Job> jobs) {
        TreeMap<Integer, Map<String, List<Job>>> levels = new TreeMap<>(Comparator.reverseOrder());
        List<Job> sorted = new ArrayList<>(jobs);
        sorted.sort(Comparator.comparing(Job::tenant).thenComparing(AGE));
        for (Job j : sorted) {
            levels.computeIfAbsent(j.priority(), p -> new LinkedHashMap<>()).computeIfAbsent(j.tenant(), t -> new ArrayList<>()).add(j);
        }
        return levels;
    }

    /**
     * How many tasks of {@code request} the schedulable nodes could take now, by free resources
     * alone (selectors and pools not applied): an upper bound on what a cycle can place, so a
     * cycle reads no more of a job than could start.
     */
    public static long placeable(Resources request, List<NodeView> nodes) {
        long n = 0;
        for (NodeView node : nodes) {
            if (!node.schedulable()) continue;
            Resources free = node.free();
            long fit = request.cpuMillis() > 0 ? free.cpuMillis() / request.cpuMillis() : Long.MAX_VALUE;
            if (request.memoryMib() > 0) fit = Math.min(fit, free.memoryMib() / request.memoryMib());
            if (request.gpus() > 0) fit = Math.min(fit, free.gpus() / request.gpus());
            if (fit == Long.MAX_VALUE) fit = 0;
            n += fit;
        }
        return n;
    }
}
