package dev.spillway.broker.jobs;

import dev.spillway.api.v1.GetJobResponse;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.broker.grpc.GrpcErrors;
import dev.spillway.broker.grpc.ProtoMapping;
import dev.spillway.broker.placement.SchedulingLoop;
import dev.spillway.broker.store.JobStore;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/** Reading jobs, shared by the gRPC and REST APIs. Failures are gRPC status exceptions. */
@ApplicationScoped
public class JobQueries {

    private final JobStore store;
    private final SchedulingLoop scheduler;
    private final dev.spillway.broker.cloud.BurstController burst;

    public JobQueries(JobStore store, SchedulingLoop scheduler, dev.spillway.broker.cloud.BurstController burst) {
        this.store = store;
        this.scheduler = scheduler;
        this.burst = burst;
    }

    /** Why a job's queued tasks wait, and what the burst controller did about it. */
    String pendingReason(UUID id) {
        String waiting = scheduler.pendingReason(id);
        String bursting = burst.burstReason(id);
        if (waiting == null) return bursting;
        return bursting == null ? waiting : waiting + "; " + bursting;
    }

    public Uni<GetJobResponse> get(UUID id) {
        return store.find(id).flatMap(job -> {
            if (job == null) throw GrpcErrors.notFound("no job " + id);
            return Uni.combine().all().unis(store.tasks(id), store.taskCounts(List.of(id))).asTuple()
                    .map(t -> GetJobResponse.newBuilder()
                            .setJob(ProtoMapping.job(job, t.getItem2().get(id), pendingReason(id)))
                            .addAllTasks(t.getItem1().stream().map(ProtoMapping::task).toList())
                            .build());
        });
    }

    /** A page of jobs, newest first. Page tokens encode the (create time, id) of the page's last job. */
    public Uni<ListJobsResponse> list(ListJobsRequest request) {
        int size = request.getPageSize() == 0 ? 100 : request.getPageSize();
        if (size < 1 || size > 1000) {
            throw GrpcErrors.invalid(List.of(JobSpecValidator.violation("page_size", "must be between 1 and 1000")));
        }
        OffsetDateTime afterCreated = null;
        UUID afterId = null;
        if (!request.getPageToken().isEmpty()) {
            try {
                String[] parts = new String(Base64.getUrlDecoder().decode(request.getPageToken()), StandardCharsets.UTF_8).split("\\|");
                afterCreated = OffsetDateTime.parse(parts[0]);
                afterId = UUID.fromString(parts[1]);
            } catch (RuntimeException e) {
                throw GrpcErrors.invalid(List.of(JobSpecValidator.violation("page_token", "not a token from ListJobs")));
            }
        }
        List<String> states = new ArrayList<>();
        for (JobState s : request.getStatesList()) {
            if (s == JobState.JOB_STATE_UNSPECIFIED || s == JobState.UNRECOGNIZED) continue;
            states.add(s.name().substring("JOB_STATE_".length()));
        }
        String tenant = request.getTenant().isEmpty() ? null : request.getTenant();
        return store.list(size + 1, afterCreated, afterId, states, tenant, request.getLabelsMap()).flatMap(rows -> {
            boolean more = rows.size() > size;
            List<JobStore.JobRow> page = more ? rows.subList(0, size) : rows;
            return store.taskCounts(page.stream().map(JobStore.JobRow::id).toList()).map(counts -> {
                ListJobsResponse.Builder b = ListJobsResponse.newBuilder();
                for (JobStore.JobRow r : page) b.addJobs(ProtoMapping.job(r, counts.get(r.id()), pendingReason(r.id())));
                if (more) {
                    JobStore.JobRow last = page.get(page.size() - 1);
                    b.setNextPageToken(Base64.getUrlEncoder().withoutPadding()
                            .encodeToString((last.createdAt() + "|" + last.id()).getBytes(StandardCharsets.UTF_8)));
                }
                return b.build();
            });
        });
    }
}
