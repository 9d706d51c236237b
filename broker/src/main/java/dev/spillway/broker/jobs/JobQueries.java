package dev.spillway.broker.jobs;

import dev.spillway.broker.burst.BurstStatus;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.listing.Filters;
import dev.spillway.broker.listing.Pages;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.TenantScope;
import dev.spillway.core.filter.Condition;
import dev.spillway.core.task.TaskState;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Reading jobs, shared by the gRPC and REST APIs. Failures are domain errors. */
@ApplicationScoped
public class JobQueries {

    public static final int MAX_PAGE_SIZE = 1000;

    private final JobStore store;
    private final SchedulingLoop scheduler;
    private final BurstStatus burst;
    private final JobAccess access;

    public JobQueries(JobStore store, SchedulingLoop scheduler, BurstStatus burst, JobAccess access) {
        this.access = access;
        this.store = store;
        this.scheduler = scheduler;
        this.burst = burst;
    }

    /** A job with its task counts and, while unfinished, why its queued tasks wait. */
    public record JobView(JobStore.JobRow job, Map<String, Integer> taskCounts, String pendingReason) {
    }

    /** A page of a job's tasks, by index, and the token of the next one (empty on the last page). */
    public record TaskPage(List<JobStore.TaskRow> tasks, String nextPageToken) {
    }

    public static final int MAX_TASK_PAGE_SIZE = 10_000;

    /** A page of jobs and the token of the next one (empty on the last page). */
    public record JobPage(List<JobView> jobs, String nextPageToken) {
    }

    /**
     * Why a job's queued tasks wait, and what the burst controller does about it; null when it
     * has no queued tasks.
     *
     * @param taskCounts the job's tasks by state
     */
    public String pendingReason(JobStore.JobRow job, Map<String, Integer> taskCounts) {
        if (taskCounts.getOrDefault(TaskState.QUEUED.name(), 0) == 0) return null;
        UUID id = job.id();
        String waiting = scheduler.pendingReason(id, job.spec().getTenant());
        String bursting = burst.burstReason(id);
        if (waiting == null) return bursting;
        return bursting == null ? waiting : waiting + "; " + bursting;
    }

    /** A job with its task counts and, when it has queued tasks, why they wait. */
    public JobView view(JobStore.JobRow job, Map<String, Integer> taskCounts) {
        return new JobView(job, taskCounts, pendingReason(job, taskCounts));
    }

    /** A job with its task counts (its tasks are read a page at a time with {@link #tasks}). */
    public Uni<JobView> get(UUID id, TenantScope scope) {
        return access.visible(id, scope).flatMap(job -> store.taskCounts(List.of(id))
                .map(counts -> view(job, counts.getOrDefault(id, Map.of()))));
    }

    /**
     * A page of a job's tasks by index that {@code filter} (AIP-160, {@link JobStore#TASK_FILTER}) holds for. A page
     * token is bound to the job and the filter, and refused with others.
     */
    public Uni<TaskPage> tasks(UUID id, int pageSize, String pageToken, String filter, TenantScope scope) {
        int size = Pages.size(pageSize, 1000, MAX_TASK_PAGE_SIZE);
        Condition condition = Filters.parse(JobStore.TASK_FILTER, filter);
        String job = id.toString(), bound = condition.toString();
        String after = Pages.after(pageToken, "tasks", job, bound);
        int afterIndex;
        try {
            afterIndex = after == null ? -1 : Integer.parseInt(after);
        } catch (NumberFormatException e) {
            throw InvalidRequest.of("page_token", "not a page token of this listing");
        }
        return access.visible(id, scope).flatMap(j -> store.tasks(id, afterIndex, size + 1, condition)).map(rows -> {
            boolean more = rows.size() > size;
            List<JobStore.TaskRow> page = more ? rows.subList(0, size) : rows;
            String next = more ? Pages.token(Integer.toString(page.get(page.size() - 1).index()), "tasks", job, bound) : "";
            return new TaskPage(page, next);
        });
    }

    /** One task of a job; NOT_FOUND when the job is not visible or has no such index. */
    public Uni<JobStore.TaskRow> task(UUID id, int index, TenantScope scope) {
        return access.visible(id, scope).flatMap(job -> store.tasks(id, index - 1, 1, Condition.ALWAYS)).map(rows -> {
            if (rows.isEmpty() || rows.get(0).index() != index) {
                throw new NotFound(dev.spillway.api.ResourceNames.task(id, index), "job " + id + " has no task " + index);
            }
            return rows.get(0);
        });
    }

    /**
     * A page of jobs, newest first, that {@code filter} (AIP-160, {@link JobStore#JOB_FILTER}) holds for, of the
     * tenants the caller may read. A page token carries the (create time, id) of the page's last job and is bound to
     * the filter.
     */
    public Uni<JobPage> list(int pageSize, String pageToken, String filter, TenantScope scope) {
        int size = Pages.size(pageSize, 100, MAX_PAGE_SIZE);
        Condition condition = Filters.parse(JobStore.JOB_FILTER, filter);
        String bound = condition.toString();
        String after = Pages.after(pageToken, "jobs", bound);
        OffsetDateTime afterCreated = null;
        UUID afterId = null;
        if (after != null) {
            try {
                int cut = after.indexOf('|');
                afterCreated = OffsetDateTime.parse(after.substring(0, cut));
                afterId = UUID.fromString(after.substring(cut + 1));
            } catch (RuntimeException e) {
                throw InvalidRequest.of("page_token", "not a page token of this listing");
            }
        }
        String[] tenants = scope instanceof TenantScope.Only only ? only.tenants().toArray(String[]::new) : null;
        return store.list(size + 1, afterCreated, afterId, condition, tenants).flatMap(rows -> {
            boolean more = rows.size() > size;
            List<JobStore.JobRow> page = more ? rows.subList(0, size) : rows;
            return store.taskCounts(page.stream().map(JobStore.JobRow::id).toList()).map(counts -> {
                List<JobView> views = page.stream()
                        .map(r -> view(r, counts.getOrDefault(r.id(), Map.of()))).toList();
                String next = "";
                if (more) {
                    JobStore.JobRow last = page.get(page.size() - 1);
                    next = Pages.token(last.createdAt() + "|" + last.id(), "jobs", bound);
                }
                return new JobPage(views, next);
            });
        });
    }
}
