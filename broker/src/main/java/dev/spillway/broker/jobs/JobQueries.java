package dev.spillway.broker.jobs;

import dev.spillway.broker.burst.BurstStatus;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.scheduling.SchedulingLoop;
import dev.spillway.broker.store.JobStore;
import dev.spillway.core.access.TenantScope;
import dev.spillway.core.lifecycle.JobState;
import dev.spillway.core.task.TaskState;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.Base64;
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

    /** What to list: empty collections and null mean no filter. */
    public record JobFilter(List<JobState> states, String tenant, Map<String, String> labels) {
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
     * A page of a job's tasks by index. A page token names the job, the state filter and the last
     * index sent, and is refused with another job or filter.
     *
     * @param states only tasks in these states (any when empty)
     */
    public Uni<TaskPage> tasks(UUID id, int pageSize, String pageToken, List<TaskState> states, TenantScope scope) {
        int size = pageSize == 0 ? 1000 : Math.min(pageSize, MAX_TASK_PAGE_SIZE);
        if (size < 1) throw InvalidRequest.of("page_size", "must not be negative");
        List<String> names = states.stream().map(Enum::name).distinct().sorted().toList();
        String bound = id + "|" + String.join(",", names);
        int after = -1;
        if (pageToken != null && !pageToken.isEmpty()) {
            String token;
            try {
                token = new String(Base64.getUrlDecoder().decode(pageToken), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw InvalidRequest.of("page_token", "not a token from ListTasks");
            }
            int cut = token.lastIndexOf('|');
            if (cut < 0 || !token.substring(0, cut).equals(bound)) {
                throw InvalidRequest.of("page_token", "belongs to another job or state filter than this request's");
            }
            try {
                after = Integer.parseInt(token.substring(cut + 1));
            } catch (NumberFormatException e) {
                throw InvalidRequest.of("page_token", "not a token from ListTasks");
            }
        }
        int afterIndex = after;
        return access.visible(id, scope).flatMap(job -> store.tasks(id, afterIndex, size + 1, names)).map(rows -> {
            boolean more = rows.size() > size;
            List<JobStore.TaskRow> page = more ? rows.subList(0, size) : rows;
            String next = more ? Base64.getUrlEncoder().withoutPadding()
                    .encodeToString((bound + "|" + page.get(page.size() - 1).index()).getBytes(StandardCharsets.UTF_8)) : "";
            return new TaskPage(page, next);
        });
    }

    /** One task of a job; NOT_FOUND when the job is not visible or has no such index. */
    public Uni<JobStore.TaskRow> task(UUID id, int index, TenantScope scope) {
        return access.visible(id, scope).flatMap(job -> store.tasks(id, index - 1, 1, List.of())).map(rows -> {
            if (rows.isEmpty() || rows.get(0).index() != index) {
                throw new NotFound(dev.spillway.api.ResourceNames.task(id, index), "job " + id + " has no task " + index);
            }
            return rows.get(0);
        });
    }

    /** A page of jobs, newest first. Page tokens encode the (create time, id) of the page's last job. */
    /** The filters a page token is bound to, as a short digest: a token is refused with any other. */
    static String fingerprint(JobFilter filter) {
        StringBuilder canonical = new StringBuilder();
        filter.states().stream().map(Enum::name).distinct().sorted().forEach(s -> canonical.append(s).append(','));
        canonical.append('\n').append(filter.tenant() == null ? "" : filter.tenant()).append('\n');
        new java.util.TreeMap<>(filter.labels()).forEach((k, v) -> canonical.append(k).append('=').append(v).append('\n'));
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(canonical.toString().getBytes(StandardCharsets.UTF_8));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(java.util.Arrays.copyOf(digest, 9));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Uni<JobPage> list(int pageSize, String pageToken, JobFilter filter, TenantScope scope) {
        if (filter.tenant() != null && !scope.includes(filter.tenant())) {
            throw PermissionDenied.tenant(filter.tenant(), "you may not read the jobs of tenant " + filter.tenant());
        }
        String[] tenants = filter.tenant() != null ? new String[] {filter.tenant()}
                : scope instanceof TenantScope.Only only ? only.tenants().toArray(String[]::new) : null;
        // Above the maximum, the maximum (AIP-158); 0, the default.
        int size = pageSize == 0 ? 100 : Math.min(pageSize, MAX_PAGE_SIZE);
        if (size < 1) throw InvalidRequest.of("page_size", "must not be negative");
        OffsetDateTime afterCreated = null;
        UUID afterId = null;
        String bound = fingerprint(filter);
        if (pageToken != null && !pageToken.isEmpty()) {
            String[] parts;
            try {
                parts = new String(Base64.getUrlDecoder().decode(pageToken), StandardCharsets.UTF_8).split("\\|");
                afterCreated = OffsetDateTime.parse(parts[0]);
                afterId = UUID.fromString(parts[1]);
            } catch (RuntimeException e) {
                throw InvalidRequest.of("page_token", "not a token from ListJobs");
            }
            if (parts.length != 3 || !parts[2].equals(bound)) {
                throw InvalidRequest.of("page_token", "belongs to a listing with other filters than this request's (states, tenant, labels)");
            }
        }
        List<String> states = filter.states().stream().map(Enum::name).toList();
        return store.list(size + 1, afterCreated, afterId, states, tenants, filter.labels()).flatMap(rows -> {
            boolean more = rows.size() > size;
            List<JobStore.JobRow> page = more ? rows.subList(0, size) : rows;
            return store.taskCounts(page.stream().map(JobStore.JobRow::id).toList()).map(counts -> {
                List<JobView> views = page.stream()
                        .map(r -> view(r, counts.getOrDefault(r.id(), Map.of()))).toList();
                String next = "";
                if (more) {
                    JobStore.JobRow last = page.get(page.size() - 1);
                    next = Base64.getUrlEncoder().withoutPadding()
                            .encodeToString((last.createdAt() + "|" + last.id() + "|" + bound).getBytes(StandardCharsets.UTF_8));
                }
                return new JobPage(views, next);
            });
        });
    }
}
