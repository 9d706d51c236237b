package dev.spillway.broker.api.console;

import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.ListDecisionsRequest;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.ListTasksRequest;
import dev.spillway.api.v1.ListTasksResponse;
import dev.spillway.api.v1.LogStream;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.Task;
import dev.spillway.client.FilterText;
import dev.spillway.client.SpillwayClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.FormParam;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import org.jboss.resteasy.reactive.RestStreamElementType;

/** The console's job pages: the list with filters and paging, a job, its cost and quote, a task's log, and cancelling. */
@Path("/console/jobs")
@Produces(MediaType.TEXT_HTML)
@Blocking
public class ConsoleJobs {

    @CheckedTemplate(basePath = "console")
    static class Templates {
        static native TemplateInstance jobs(Views.Chrome chrome, List<Views.JobRow> jobs, String state, String tenant, String label,
                                            String since, String filter, String next, String error);

        static native TemplateInstance job(Views.Chrome chrome, Views.JobRow job, List<Views.Label> labels, List<Views.StateCount> counts,
                                           List<String> waiting, List<Views.Group> groups, boolean groupsPartial, List<Views.TaskRow> tasks,
                                           String taskState, String nextTasks, List<Views.DecisionRow> decisions, String decisionsHidden,
                                           boolean cancellable, Views.JobCost cost, Views.Quoted quoted, List<Views.InstanceRow> bursts,
                                           String burstsHidden);

        static native TemplateInstance quote(String text, boolean refused);

        static native TemplateInstance log(Views.Chrome chrome, String job, int task, String stream, String text, boolean live, long from);
    }

    private static final int PAGE = 50;

    private final ConsolePages pages;
    private final ConsoleCalls calls;
    private final java.time.Clock clock;

    public ConsoleJobs(ConsolePages pages, ConsoleCalls calls, java.time.Clock clock) {
        this.pages = pages;
        this.calls = calls;
        this.clock = clock;
    }

    @GET
    @Path("")
    public Response jobs(@QueryParam("state") String state, @QueryParam("tenant") String tenant, @QueryParam("label") String label,
                         @QueryParam("since") String since, @QueryParam("filter") String filter, @QueryParam("page") String page,
                         @Context RoutingContext rc) {
        return pages.page(rc, "Jobs", "jobs", (chrome, client) -> {
            FilterText text = new FilterText();
            if (state != null && !state.isBlank()) text.equal("state", state.trim().toUpperCase(Locale.ROOT));
            if (tenant != null && !tenant.isBlank()) text.equal("tenant", tenant.trim());
            String error = "";
            if (label != null && !label.isBlank()) {
                int eq = label.indexOf('=');
                if (eq > 0) text.labels(java.util.Map.of(label.substring(0, eq).trim(), label.substring(eq + 1).trim()));
                else error = "A label is written key=value.";
            }
            if (since != null && !since.isBlank()) {
                try {
                    text.time("create_time", ">=", java.time.LocalDate.parse(since.trim()).atStartOfDay(java.time.ZoneOffset.UTC).toInstant());
                } catch (java.time.format.DateTimeParseException e) {
                    error = "Since is a date, YYYY-MM-DD.";
                }
            }
            text.written(filter);
            ListJobsResponse listed;
            try {
                listed = client.call("ListJobs", () -> client.stub(JobServiceGrpc::newBlockingStub).listJobs(ListJobsRequest.newBuilder()
                        .setFilter(text.text()).setPageSize(PAGE).setPageToken(page == null ? "" : page).build()));
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT) throw e;
                listed = ListJobsResponse.getDefaultInstance();
                error = ConsolePages.invalid(e);
            }
            return Templates.jobs(chrome, listed.getJobsList().stream().map(Views::job).toList(), ConsolePages.blank(state), ConsolePages.blank(tenant), ConsolePages.blank(label),
                    ConsolePages.blank(since), ConsolePages.blank(filter), listed.getNextPageToken(), error);
        });
    }

    @GET
    @Path("/{job}")
    public Response job(@PathParam("job") String id, @QueryParam("tasks") String taskPage, @QueryParam("taskState") String taskState,
                        @Context RoutingContext rc) {
        return pages.page(rc, "Job " + id, "jobs", (chrome, client) -> {
            Job job = client.getJob(id);
            String taskFilter = taskState == null || taskState.isBlank() ? "" : new FilterText().equal("state", taskState.trim().toUpperCase(Locale.ROOT)).text();
            ListTasksResponse tasks = client.call("ListTasks", () -> client.stub(JobServiceGrpc::newBlockingStub).listTasks(ListTasksRequest.newBuilder()
                    .setParent(job.getName()).setFilter(taskFilter).setPageSize(PAGE).setPageToken(taskPage == null ? "" : taskPage).build()));
            // Where the tasks are and why: every task of a job of up to 2,000, else its first 2,000.
            List<Task> sample;
            try (var all = client.listTasks(job.getName(), "")) {
                sample = all.limit(2000).toList();
            }
            // The cloud instances its tasks ran on, with why each was bought (instances of up to a day before the job, which it may have reused).
            java.util.Set<String> nodes = sample.stream().map(Task::getNode).filter(n -> !n.isEmpty()).collect(java.util.stream.Collectors.toSet());
            List<Views.InstanceRow> bursts = List.of();
            String burstsHidden = "";
            try {
                String since = java.time.Instant.ofEpochSecond(job.getCreateTime().getSeconds()).minus(java.time.Duration.ofDays(1)).toString();
                bursts = client.call("ListInstances", () -> client.stub(dev.spillway.api.v1.PoolServiceGrpc::newBlockingStub).listInstances(
                        dev.spillway.api.v1.ListInstancesRequest.newBuilder().setFilter("request_time >= " + since).setPageSize(1000).build()))
                        .getInstancesList().stream().filter(i -> nodes.contains(i.getNode())).map(Views::instance).toList();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.PERMISSION_DENIED) throw e;
                burstsHidden = "Your role does not list cloud instances.";
            }
            List<Views.DecisionRow> decisions = List.of();
            String decisionsHidden = "";
            try {
                decisions = client.call("ListDecisions", () -> client.stub(PolicyServiceGrpc::newBlockingStub).listDecisions(ListDecisionsRequest.newBuilder()
                        .setParent(job.getName()).setPageSize(20).build())).getDecisionsList().stream().map(Views::decision).toList();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.PERMISSION_DENIED) throw e;
                decisionsHidden = "Your role does not read the decision log.";
            }
            List<String> waiting = job.getPendingReason().isEmpty() ? List.of() : List.of(job.getPendingReason().split("; "));
            List<Views.Label> labels = job.getSpec().getLabelsMap().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                    .map(e -> new Views.Label(e.getKey(), e.getValue())).toList();
            boolean cancellable = job.getState() == dev.spillway.api.v1.JobState.JOB_STATE_QUEUED || job.getState() == dev.spillway.api.v1.JobState.JOB_STATE_RUNNING;
            Views.JobCost cost;
            try {
                var report = client.call("GetCostReport", () -> client.stub(dev.spillway.api.v1.CostServiceGrpc::newBlockingStub).getCostReport(
                        dev.spillway.api.v1.GetCostReportRequest.newBuilder().setGroupBy("job").setJob(job.getName()).setStartTime(job.getCreateTime())
                                .setEndTime(ConsolePages.ts(clock.instant())).build()));
                cost = Views.JobCost.of(report.getTotal());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED) cost = Views.JobCost.hidden("Your role does not read costs.");
                else if (e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT) cost = Views.JobCost.hidden("Older than the cost ledger's longest window.");
                else throw e;
            }
            return Templates.job(chrome, Views.job(job), labels, Views.taskCounts(job), waiting, Views.groups(sample), sample.size() < job.getSpec().getTaskCount(),
                    tasks.getTasksList().stream().map(Views::task).toList(), ConsolePages.blank(taskState), tasks.getNextPageToken(), decisions, decisionsHidden,
                    cancellable, cost, Views.Quoted.of(job), bursts, burstsHidden);
        });
    }

    /**
     * What the job's spec would cost if submitted now (EstimateJob), for the job page to show beside its quote at admission
     * and what it has cost.
     */
    @GET
    @Path("/{job}/quote")
    public Response quote(@PathParam("job") String id, @Context RoutingContext rc) {
        return pages.page(rc, "Quote", "jobs", (chrome, client) -> {
            Job job = client.getJob(id);
            try {
                var q = client.estimate(job.getSpec());
                String text = "expected " + (q.hasExpectedCost() ? CostViews.usd(q.getExpectedCost()) : "unknown (no expectedRuntime or maxRuntime)")
                        + ", not to exceed " + (q.hasNotToExceedCost() ? CostViews.usd(q.getNotToExceedCost()) : "unbounded: " + q.getUnboundedReason())
                        + (q.getBurst() > 0 ? "; " + q.getBurst() + " task(s) on new cloud instances" : "")
                        + (q.getWaiting() > 0 ? "; " + q.getWaiting() + " task(s) waiting for capacity" : "");
                return Templates.quote(text, false);
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED) return Templates.quote("Your role may not ask for quotes.", true);
                if (e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT) return Templates.quote("This spec would be refused now: " + ConsolePages.invalid(e), true);
                throw e;
            }
        });
    }

    @POST
    @Path("/{job}/cancel")
    @jakarta.ws.rs.Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    public Response cancel(@PathParam("job") String id, @FormParam("_csrf") String csrf, @Context RoutingContext rc) {
        ConsolePages.csrf(rc, csrf);
        return pages.page(rc, "Job " + id, "jobs", (chrome, client) -> {
            client.cancel(id);
            return null;
        }, Response.seeOther(URI.create("/console/jobs/" + Views.id(id))).build());
    }

    /** The output of a task's current attempt so far (the last 64 KiB); the page follows it live while the attempt runs. */
    @GET
    @Path("/{job}/tasks/{task}/log")
    public Response log(@PathParam("job") String id, @PathParam("task") int index, @QueryParam("stream") String stream, @Context RoutingContext rc) {
        return pages.page(rc, "Log of task " + index, "jobs", (chrome, client) -> {
            Task task = client.getTask(id, index);
            LogStream which = "stderr".equals(stream) ? LogStream.LOG_STREAM_STDERR : LogStream.LOG_STREAM_STDOUT;
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            try (var chunks = client.logs(id, index, 0, which, false)) {
                chunks.forEach(c -> bytes.writeBytes(c.toByteArray()));
            }
            String text = bytes.toString(StandardCharsets.UTF_8);
            String tail = text.length() > 65_536 ? "…" + text.substring(text.length() - 65_536) : text;
            boolean live = task.getState() == dev.spillway.api.v1.TaskState.TASK_STATE_RUNNING || task.getState() == dev.spillway.api.v1.TaskState.TASK_STATE_ASSIGNED;
            return Templates.log(chrome, Views.id(id), index, which == LogStream.LOG_STREAM_STDERR ? "stderr" : "stdout", tail, live, bytes.size());
        });
    }

    /** New output of a running attempt as server-sent events, one per chunk, from where {@code from} bytes in. */
    @GET
    @Path("/{job}/tasks/{task}/log/follow")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.TEXT_PLAIN)
    public Multi<String> follow(@PathParam("job") String id, @PathParam("task") int index, @QueryParam("stream") String stream,
                                @QueryParam("from") long from, @Context RoutingContext rc) {
        ConsoleSessions.Session session = rc.get(ConsoleGate.SESSION);
        LogStream which = "stderr".equals(stream) ? LogStream.LOG_STREAM_STDERR : LogStream.LOG_STREAM_STDOUT;
        return Multi.createFrom().<String>emitter(emitter -> {
            SpillwayClient client = calls.as(session.credential());
            var chunks = client.logs(id, index, 0, which, true);
            emitter.onTermination(chunks::close);
            long[] skip = {Math.max(0, from)};
            try {
                chunks.forEach(c -> {
                    byte[] bytes = c.toByteArray();
                    if (skip[0] >= bytes.length) {
                        skip[0] -= bytes.length;
                        return;
                    }
                    int start = (int) skip[0];
                    skip[0] = 0;
                    emitter.emit(new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8));
                });
                emitter.complete();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.CANCELLED) return;
                emitter.fail(e);
            }
        }).runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
    }
}
