package dev.spillway.broker.api;

import static dev.spillway.broker.api.Conformance.pages;
import static dev.spillway.broker.api.Conformance.violatedField;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.spillway.api.ResourceNames;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.GetTaskRequest;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.ListTasksRequest;
import dev.spillway.api.v1.ListTasksResponse;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URL;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * JobService as the API rules say it behaves (AIP-122, 131-135, 158): resource names round-trip
 * and bare ids are names too; the standard methods return the resource; a required field left
 * empty is INVALID_ARGUMENT naming it; paging yields each item exactly once at any page size,
 * coerces page sizes above the maximum and refuses a token reused with other filters.
 */
@QuarkusTest
class JobServiceConformanceTest {

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    private ManagedChannel channel;
    private JobServiceGrpc.JobServiceBlockingStub jobs;

    @BeforeEach
    void connect() {
        channel = TestCallers.channel(url, TestCallers.key(keys, "default", Role.ADMIN));
        jobs = JobServiceGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void disconnect() {
        channel.shutdownNow();
    }

    private Job submit(int tasks, String label) {
        return jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(JobApiTest.valid().toBuilder().setTaskCount(tasks).putLabels("run", label)).build());
    }

    @Test
    void submitReturnsTheJobAsStoredAndItsNameRoundTrips() {
        String run = UUID.randomUUID().toString().substring(0, 8);
        Job job = submit(3, run);
        try {
            assertThat(job.getName()).isEqualTo("jobs/" + job.getUid());
            assertThat(ResourceNames.parseJob(job.getName())).contains(UUID.fromString(job.getUid()));
            assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
            assertThat(job.getTaskCountsMap()).containsEntry("TASK_STATE_QUEUED", 3).hasSize(1);
            assertThat(job.getSpec().getTenant()).as("defaults applied").isEqualTo("default");
            assertThat(job.hasCreateTime()).isTrue();
            assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(job.getName()).build()).toBuilder().clearPendingReason().build())
                    .as("what SubmitJob answers is the job as stored").isEqualTo(job);

            // By its name or its bare id: the same job.
            assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(job.getName()).build()).getName()).isEqualTo(job.getName());
            assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(job.getUid()).build()).getName()).isEqualTo(job.getName());

            List<Task> tasks = jobs.listTasks(ListTasksRequest.newBuilder().setParent(job.getName()).build()).getTasksList();
            assertThat(tasks).extracting(Task::getName).containsExactly(job.getName() + "/tasks/0", job.getName() + "/tasks/1", job.getName() + "/tasks/2");
            for (Task t : tasks) assertThat(jobs.getTask(GetTaskRequest.newBuilder().setName(t.getName()).build())).isEqualTo(t);
            var missing = catchThrowableOfType(StatusRuntimeException.class,
                    () -> jobs.getTask(GetTaskRequest.newBuilder().setName(job.getName() + "/tasks/3").build()));
            assertThat(missing.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
        } finally {
            Job cancelled = jobs.cancelJob(CancelJobRequest.newBuilder().setName(job.getName()).build());
            assertThat(cancelled.getName()).as("cancel returns the job").isEqualTo(job.getName());
            assertThat(cancelled.getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
            assertThat(cancelled.getTaskCountsMap()).containsEntry("TASK_STATE_CANCELLED", 3);
        }
    }

    @Test
    void aRequiredNameLeftEmptyOrMalformedIsInvalidArgumentNamingTheField() {
        String job = "jobs/" + UUID.randomUUID();
        List<Runnable> empty = List.of(
                () -> jobs.getJob(GetJobRequest.getDefaultInstance()),
                () -> jobs.cancelJob(CancelJobRequest.getDefaultInstance()),
                () -> jobs.getTask(GetTaskRequest.getDefaultInstance()),
                () -> jobs.watchJob(WatchJobRequest.getDefaultInstance()).hasNext(),
                () -> jobs.getTaskLogs(GetTaskLogsRequest.getDefaultInstance()).hasNext(),
                () -> jobs.getTask(GetTaskRequest.newBuilder().setName(job).build()),
                () -> jobs.getTask(GetTaskRequest.newBuilder().setName(job + "/tasks/01").build()),
                () -> jobs.getJob(GetJobRequest.newBuilder().setName(job + "/tasks/0").build()));
        for (Runnable call : empty) assertThat(violatedField(call)).isEqualTo("name");
        assertThat(violatedField(() -> jobs.listTasks(ListTasksRequest.getDefaultInstance()))).isEqualTo("parent");
        assertThat(violatedField(() -> jobs.submitJob(SubmitJobRequest.getDefaultInstance()))).isEqualTo("spec");
    }

    @Test
    void tasksArePagedEachExactlyOnceAtAnyPageSize() {
        Job job = submit(250, UUID.randomUUID().toString().substring(0, 8));
        try {
            for (int size : new int[] {1, 7, 100, 1_000_000}) {
                List<String> seen = pages(token -> jobs.listTasks(ListTasksRequest.newBuilder().setParent(job.getName()).setPageSize(size)
                        .setPageToken(token).build()), ListTasksResponse::getTasksList, ListTasksResponse::getNextPageToken).stream().map(Task::getName).toList();
                assertThat(seen).as("page size %d", size).hasSize(250).doesNotHaveDuplicates();
            }
            // A page size above the maximum is taken as the maximum, not refused.
            assertThat(jobs.listTasks(ListTasksRequest.newBuilder().setParent(job.getName()).setPageSize(1_000_000).build()).getNextPageToken()).isEmpty();
            String token = jobs.listTasks(ListTasksRequest.newBuilder().setParent(job.getName()).setPageSize(7).build()).getNextPageToken();
            assertThat(violatedField(() -> jobs.listTasks(ListTasksRequest.newBuilder().setParent(job.getName()).setPageSize(7)
                    .setFilter("state = QUEUED").setPageToken(token).build()))).isEqualTo("page_token");
        } finally {
            jobs.cancelJob(CancelJobRequest.newBuilder().setName(job.getName()).build());
        }
    }

    /**
     * A filter selects the jobs its condition holds for, as the broker's own reading of it says (the SQL it becomes
     * against {@link dev.spillway.core.filter.Condition#test} on the jobs as listed), NULLs and negations included,
     * a page at a time.
     */
    @Test
    void filtersSelectTheJobsTheirConditionHoldsFor() {
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<Job> submitted = new ArrayList<>();
        try {
            for (int i = 0; i < 24; i++) {
                var spec = JobApiTest.valid().toBuilder().putLabels("run", run).putLabels("group", "g" + (i % 3));
                if (i % 2 == 1) spec.putLabels("odd", "yes");
                Job j = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
                submitted.add(i % 4 == 0 ? jobs.cancelJob(CancelJobRequest.newBuilder().setName(j.getName()).build()) : j);
            }
            String middle = java.time.Instant.ofEpochSecond(submitted.get(12).getCreateTime().getSeconds(), submitted.get(12).getCreateTime().getNanos()).toString();
            List<Job> listed = pages(t -> jobs.listJobs(ListJobsRequest.newBuilder().setFilter("labels.run = " + run).setPageSize(1000).setPageToken(t).build()),
                    ListJobsResponse::getJobsList, ListJobsResponse::getNextPageToken);
            assertThat(listed).hasSize(24);
            for (String filter : List.of("state = CANCELLED", "state != JOB_STATE_CANCELLED", "labels.group = g1 OR labels.group = g2", "NOT labels:odd",
                    "-labels.odd:* AND state = queued", "labels.group != g0", "finish_time:*", "-finish_time:*", "create_time >= " + middle,
                    "NOT create_time < " + middle, "NOT (state = QUEUED AND labels.group = g1)", "finish_time < 2999-01-01T00:00:00Z",
                    "NOT finish_time < 2999-01-01T00:00:00Z", "labels.absent != x", "tenant = default (labels.group = g0 OR labels:odd)")) {
                var condition = dev.spillway.broker.store.JobStore.JOB_FILTER.parse(filter);
                Set<String> expected = new HashSet<>(listed.stream().filter(j -> condition.test(field -> switch (field) {
                    case "state" -> j.getState().name().substring("JOB_STATE_".length());
                    case "tenant" -> j.getSpec().getTenant();
                    case "labels" -> j.getSpec().getLabelsMap();
                    case "create_time" -> java.time.Instant.ofEpochSecond(j.getCreateTime().getSeconds(), j.getCreateTime().getNanos());
                    case "finish_time" -> j.hasFinishTime() ? java.time.Instant.ofEpochSecond(j.getFinishTime().getSeconds(), j.getFinishTime().getNanos()) : null;
                    default -> throw new IllegalArgumentException(field);
                })).map(Job::getName).toList());
                List<String> seen = pages(t -> jobs.listJobs(ListJobsRequest.newBuilder().setFilter("labels.run = " + run + " AND (" + filter + ")")
                        .setPageSize(5).setPageToken(t).build()), ListJobsResponse::getJobsList, ListJobsResponse::getNextPageToken).stream().map(Job::getName).toList();
                assertThat(seen).as(filter).doesNotHaveDuplicates();
                assertThat(new HashSet<>(seen)).as(filter).isEqualTo(expected);
            }
            assertThat(listed.stream().filter(j -> j.getState() == JobState.JOB_STATE_CANCELLED)).as("the filters had both kinds to tell apart").hasSize(6);

            // A filter that cannot be read is refused on `filter`, saying what and where.
            var refused = catchThrowableOfType(StatusRuntimeException.class, () -> jobs.listJobs(ListJobsRequest.newBuilder().setFilter("stat = QUEUED").build()));
            assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(refused.getStatus().getDescription()).contains("filter", "has no field stat", "state, tenant, labels.<key>, create_time, finish_time");
            assertThat(violatedField(() -> jobs.listJobs(ListJobsRequest.newBuilder().setFilter("state = RUNNING)").build()))).isEqualTo("filter");
            assertThat(violatedField(() -> jobs.listTasks(ListTasksRequest.newBuilder().setParent(listed.get(0).getName())
                    .setFilter("create_time > 2026-01-01T00:00:00Z").build()))).isEqualTo("filter");

            // Tasks too: a cancelled job's tasks are all CANCELLED.
            Job cancelled = submitted.get(0);
            assertThat(jobs.listTasks(ListTasksRequest.newBuilder().setParent(cancelled.getName()).setFilter("state = CANCELLED AND -node:*").build())
                    .getTasksCount()).isEqualTo(2);
            assertThat(jobs.listTasks(ListTasksRequest.newBuilder().setParent(cancelled.getName()).setFilter("state = QUEUED OR failures > 0").build())
                    .getTasksCount()).isZero();
        } finally {
            for (Job j : submitted) jobs.cancelJob(CancelJobRequest.newBuilder().setName(j.getName()).build());
        }
    }

    @Test
    void jobsArePagedEachExactlyOnceAtAnyPageSize() {
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<Job> submitted = new ArrayList<>();
        try {
            for (int i = 0; i < 250; i++) submitted.add(submit(1, run));
            Set<String> expected = new HashSet<>(submitted.stream().map(Job::getName).toList());
            for (int size : new int[] {1, 7, 100, 1_000_000}) {
                List<String> seen = pages(token -> jobs.listJobs(ListJobsRequest.newBuilder().setFilter("labels.run = " + run).setPageSize(size).setPageToken(token).build()),
                        ListJobsResponse::getJobsList, ListJobsResponse::getNextPageToken).stream().map(Job::getName).toList();
                assertThat(seen).as("page size %d", size).hasSize(250).doesNotHaveDuplicates();
                assertThat(new HashSet<>(seen)).isEqualTo(expected);
            }
            String token = jobs.listJobs(ListJobsRequest.newBuilder().setFilter("labels.run = " + run).setPageSize(7).build()).getNextPageToken();
            assertThat(violatedField(() -> jobs.listJobs(ListJobsRequest.newBuilder().setFilter("labels.run = " + run + "-other").setPageSize(7)
                    .setPageToken(token).build()))).isEqualTo("page_token");
            assertThat(violatedField(() -> jobs.listJobs(ListJobsRequest.newBuilder().setFilter("labels.run = " + run + " state = QUEUED").setPageSize(7)
                    .setPageToken(token).build()))).isEqualTo("page_token");
            assertThat(jobs.listJobs(ListJobsRequest.newBuilder().setFilter("  labels.run=" + run).setPageSize(7).setPageToken(token).build()).getJobsCount())
                    .as("the same filter written otherwise continues the listing").isEqualTo(7);
        } finally {
            for (Job j : submitted) jobs.cancelJob(CancelJobRequest.newBuilder().setName(j.getName()).build());
        }
    }
}
