package dev.spillway.broker.api.console;

import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.BrokerServiceGrpc;
import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.GetQueueStatusRequest;
import dev.spillway.api.v1.GetStatusRequest;
import dev.spillway.api.v1.GetStatusResponse;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.ListDecisionsRequest;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.ListPoolsRequest;
import dev.spillway.api.v1.ListTasksRequest;
import dev.spillway.api.v1.ListTasksResponse;
import dev.spillway.api.v1.LogStream;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.WhoAmIRequest;
import dev.spillway.api.v1.WhoAmIResponse;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.client.FilterText;
import dev.spillway.client.SpillwayClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
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
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.RestStreamElementType;

/**
 * The web console: server-rendered pages (Qute) over this broker's own API, called as the
 * signed-in user ({@link ConsoleCalls}). Sessions and same-origin checks are {@link ConsoleGate}'s;
 * each form that changes something carries the session's CSRF token, checked here.
 */
@Path("/console")
@Produces(MediaType.TEXT_HTML)
@Blocking
public class ConsoleResource {

    private static final Logger LOG = Logger.getLogger(ConsoleResource.class);
    static final int PAGE = 50;

    @CheckedTemplate(basePath = "console")
    static class Templates {
        static native TemplateInstance login(String next, String nonce, String error, boolean sso);

        static native TemplateInstance overview(Views.Chrome chrome, long refreshMillis, List<Views.PoolRow> pools, Views.Leader leader,
                                                List<Views.TenantRow> tenants, String capacity, List<Views.StateCount> instanceCounts,
                                                List<Views.InstanceRow> instances, String instancesHidden, String updated);

        static native TemplateInstance overview$live(Views.Chrome chrome, long refreshMillis, List<Views.PoolRow> pools, Views.Leader leader,
                                                     List<Views.TenantRow> tenants, String capacity, List<Views.StateCount> instanceCounts,
                                                     List<Views.InstanceRow> instances, String instancesHidden, String updated);

        static native TemplateInstance jobs(Views.Chrome chrome, List<Views.JobRow> jobs, String state, String tenant, String label,
                                            String since, String filter, String next, String error);

        static native TemplateInstance job(Views.Chrome chrome, Views.JobRow job, List<Views.Label> labels, List<Views.StateCount> counts,
                                           List<String> waiting, List<Views.Group> groups, boolean groupsPartial, List<Views.TaskRow> tasks,
                                           String taskState, String nextTasks, List<Views.DecisionRow> decisions, String decisionsHidden,
                                           boolean cancellable);

        static native TemplateInstance log(Views.Chrome chrome, String job, int task, String stream, String text, boolean live, long from);

        static native TemplateInstance problem(Views.Chrome chrome, String heading, String message);

        static native TemplateInstance policies(Views.Chrome chrome, List<PolicyViews.VersionRow> versions, String next, boolean inForce, String candidate,
                                                String since, List<String> problems, boolean ran, List<PolicyViews.Comparison> sides,
                                                List<PolicyViews.TenantComparison> tenants, List<String> differences, List<String> notes, String replayed);

        static native TemplateInstance policyVersion(Views.Chrome chrome, PolicyViews.VersionRow version, List<PolicyViews.FileView> files,
                                                     List<PolicyViews.DiffLine> diff, long previous);

        static native TemplateInstance costs(Views.Chrome chrome, String range, String by, String labelKey, CostViews.Totals totals,
                                             List<CostViews.GroupRow> groups, String spendChart, String kindChart, String interval,
                                             List<CostViews.GroupRow> topJobs, List<CostViews.BudgetRow> budgets, String exportFrom, String exportTo);
    }

    private final ConsoleCalls calls;
    private final ConsoleSessions sessions;
    private final ConsoleSignOn signOn;
    private final long refreshMillis;

    private final java.time.Clock clock;

    public ConsoleResource(ConsoleCalls calls, ConsoleSessions sessions, ConsoleSignOn signOn, BrokerConfig config, java.time.Clock clock) {
        this.clock = clock;
        this.calls = calls;
        this.signOn = signOn;
        this.sessions = sessions;
        this.refreshMillis = config.console().refreshInterval().toMillis();
    }

    // ---- sign-in ----

    @GET
    @Path("/login")
    public Response loginForm(@QueryParam("next") String next, @Context RoutingContext rc) {
        String nonce = dev.spillway.broker.security.Secrets.random();
        return Response.ok(Templates.login(safeNext(next), nonce, "", signOn.enabled()).render())
                .header("Set-Cookie", cookie(rc, ConsoleSessions.LOGIN_COOKIE, nonce, 600, "/console/login")).build();
    }

    @POST
    @Path("/login")
    @jakarta.ws.rs.Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    public Response login(@FormParam("key") String key, @FormParam("next") String next, @FormParam("_csrf") String nonce,
                          @Context RoutingContext rc) {
        Cookie expected = rc.request().getCookie(ConsoleSessions.LOGIN_COOKIE);
        if (expected == null || nonce == null || !java.security.MessageDigest.isEqual(expected.getValue().getBytes(StandardCharsets.UTF_8),
                nonce.getBytes(StandardCharsets.UTF_8))) {
            return again(rc, next, "The sign-in form expired; please sign in again.", 403);
        }
        if (key == null || key.isBlank()) return again(rc, next, "Enter an API key.", 400);
        WhoAmIResponse me;
        try {
            me = calls.as(key.trim()).stub(AccessServiceGrpc::newBlockingStub).whoAmI(WhoAmIRequest.getDefaultInstance());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) return again(rc, next, "That key is not valid (unknown, revoked or expired).", 401);
            LOG.warnf("console sign-in failed: %s", e.getStatus());
            return again(rc, next, "The broker could not check the key: " + e.getStatus().getCode() + ". Try again.", 503);
        }
        ConsoleSessions.Session session = sessions.start(key.trim(), me.getSubject(), me.getRole(), me.getTenantsList(), me.getAllTenants());
        return Response.seeOther(URI.create(safeNext(next)))
                .header("Set-Cookie", cookie(rc, ConsoleSessions.COOKIE, sessions.seal(session), sessions.ttl().toSeconds(), "/console"))
                .header("Set-Cookie", cookie(rc, ConsoleSessions.LOGIN_COOKIE, "", 0, "/console/login")).build();
    }

    /** Single sign-on: to the identity provider, remembering (in a sealed cookie) the state and PKCE verifier sent. */
    @GET
    @Path("/login/oidc")
    public Response signOn(@QueryParam("next") String next, @Context RoutingContext rc) {
        if (!signOn.enabled()) return again(rc, next, "Single sign-on is not configured on this broker; use an API key.", 404);
        String scheme = rc.request().isSSL() ? "https" : "http";
        var authority = rc.request().authority();
        String callback = scheme + "://" + authority.host() + (authority.port() < 0 ? "" : ":" + authority.port()) + "/console/login/callback";
        try {
            ConsoleSignOn.Start start = signOn.begin(safeNext(next), callback);
            // Lax, not Strict: the provider's redirect back is a navigation from another site.
            Cookie c = Cookie.cookie(ConsoleSignOn.COOKIE, start.cookie()).setPath("/console/login").setHttpOnly(true)
                    .setSameSite(CookieSameSite.LAX).setMaxAge(ConsoleSignOn.PENDING_FOR.toSeconds()).setSecure(rc.request().isSSL());
            return Response.seeOther(start.authorize()).header("Set-Cookie", c.encode()).build();
        } catch (ConsoleSignOn.SignOnFailed e) {
            return again(rc, next, e.getMessage(), 503);
        }
    }

    /** The identity provider's answer: the code is exchanged for an access token, which becomes the session's credential. */
    @GET
    @Path("/login/callback")
    public Response signedOn(@QueryParam("code") String code, @QueryParam("state") String state, @QueryParam("error") String error,
                             @Context RoutingContext rc) {
        Cookie cookie = rc.request().getCookie(ConsoleSignOn.COOKIE);
        var pending = signOn.pending(cookie == null ? null : cookie.getValue());
        if (pending.isEmpty() || !ConsoleSignOn.sameState(pending.get(), state)) {
            return again(rc, "/console/", "That sign-in was not started here, or took too long; please sign in again.", 403);
        }
        String next = pending.get().next();
        if (error != null && !error.isEmpty()) return again(rc, next, "The identity provider did not sign you in (" + error + ").", 401);
        if (code == null || code.isEmpty()) return again(rc, next, "The identity provider sent no code.", 400);
        WhoAmIResponse me;
        String token;
        try {
            token = signOn.exchange(pending.get(), code);
            me = calls.as(token).stub(AccessServiceGrpc::newBlockingStub).whoAmI(WhoAmIRequest.getDefaultInstance());
        } catch (ConsoleSignOn.SignOnFailed e) {
            return again(rc, next, e.getMessage(), 401);
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
                return again(rc, next, "The broker does not accept the identity provider's token: " + e.getStatus().getDescription(), 401);
            }
            return again(rc, next, "The broker could not check the sign-in: " + e.getStatus().getCode() + ". Try again.", 503);
        }
        ConsoleSessions.Session session = sessions.start(token, me.getSubject(), me.getRole(), me.getTenantsList(), me.getAllTenants());
        // A page of this site moves on: a redirect would still count as the provider's cross-site navigation, and the
        // browser would not send the new (SameSite=Strict) session cookie with it.
        String to = ConsoleExtensions.escape(safeNext(next));
        String page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url=" + to
                + "\"><title>Signed in · Spillway</title></head><body><p>Signed in. <a href=\"" + to + "\">Continue</a></p></body></html>";
        return Response.ok(page, MediaType.TEXT_HTML_TYPE.withCharset("utf-8"))
                .header("Set-Cookie", cookie(rc, ConsoleSessions.COOKIE, sessions.seal(session), sessions.ttl().toSeconds(), "/console"))
                .header("Set-Cookie", cookie(rc, ConsoleSignOn.COOKIE, "", 0, "/console/login")).build();
    }

    @POST
    @Path("/logout")
    @jakarta.ws.rs.Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    public Response logout(@FormParam("_csrf") String csrf, @Context RoutingContext rc) {
        csrf(rc, csrf);
        return Response.seeOther(URI.create("/console/login")).header("Set-Cookie", cookie(rc, ConsoleSessions.COOKIE, "", 0, "/console")).build();
    }

    private Response again(RoutingContext rc, String next, String error, int status) {
        String nonce = dev.spillway.broker.security.Secrets.random();
        return Response.status(status).entity(Templates.login(safeNext(next), nonce, error, signOn.enabled()).render()).type(MediaType.TEXT_HTML)
                .header("Set-Cookie", cookie(rc, ConsoleSessions.LOGIN_COOKIE, nonce, 600, "/console/login")).build();
    }

    /** Only a console path: never an address elsewhere (an open redirect). */
    static String safeNext(String next) {
        if (next == null || !next.startsWith("/console") || next.startsWith("//") || next.contains("\\") || next.contains("\r") || next.contains("\n")) {
            return "/console/";
        }
        return next;
    }

    private static String cookie(RoutingContext rc, String name, String value, long maxAgeSeconds, String path) {
        Cookie c = Cookie.cookie(name, value).setPath(path).setHttpOnly(true).setSameSite(CookieSameSite.STRICT).setMaxAge(maxAgeSeconds)
                .setSecure(rc.request().isSSL());
        return c.encode();
    }

    // ---- overview ----

    @GET
    @Path("/")
    public Response overview(@Context RoutingContext rc) {
        return page(rc, "Overview", "overview", (chrome, client) -> {
            Overview o = overviewData(client);
            return Templates.overview(chrome, refreshMillis, o.pools, o.leader, o.tenants, o.capacity, o.instanceCounts, o.instances,
                    o.instancesHidden, o.updated);
        });
    }

    /** The overview's live part alone, which the open page fetches every refresh interval and swaps in. */
    @GET
    @Path("/overview/live")
    public Response overviewLive(@Context RoutingContext rc) {
        return page(rc, "Overview", "overview", (chrome, client) -> {
            Overview o = overviewData(client);
            return Templates.overview$live(chrome, refreshMillis, o.pools, o.leader, o.tenants, o.capacity, o.instanceCounts, o.instances,
                    o.instancesHidden, o.updated);
        });
    }

    private record Overview(List<Views.PoolRow> pools, Views.Leader leader, List<Views.TenantRow> tenants, String capacity,
                            List<Views.StateCount> instanceCounts, List<Views.InstanceRow> instances, String instancesHidden, String updated) {
    }

    private Overview overviewData(SpillwayClient client) {
        var pools = client.call("ListPools", () -> client.stub(PoolServiceGrpc::newBlockingStub)
                .listPools(ListPoolsRequest.newBuilder().setPageSize(1000).build())).getPoolsList();
        var queue = client.call("GetQueueStatus", () -> client.stub(PoolServiceGrpc::newBlockingStub).getQueueStatus(GetQueueStatusRequest.getDefaultInstance()));
        GetStatusResponse status = client.call("GetStatus", () -> client.stub(BrokerServiceGrpc::newBlockingStub).getStatus(GetStatusRequest.getDefaultInstance()));
        List<CloudInstance> instances = List.of();
        String hidden = "";
        try {
            // Live instances, and those that ended in the last 15 minutes (so that a burst is seen coming and going).
            String recent = "(-state = TERMINATED AND -state = FAILED) OR terminate_time >= "
                    + clock.instant().minus(15, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.SECONDS);
            instances = client.call("ListInstances", () -> client.stub(PoolServiceGrpc::newBlockingStub)
                    .listInstances(ListInstancesRequest.newBuilder().setFilter(recent).setPageSize(1000).build())).getInstancesList();
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.PERMISSION_DENIED) throw e;
            hidden = "Your role does not list cloud instances.";
        }
        List<CloudInstance> newestFirst = new ArrayList<>(instances);
        newestFirst.sort(java.util.Comparator.comparing((CloudInstance i) -> i.getRequestTime().getSeconds()).reversed());
        return new Overview(pools.stream().map(Views::pool).toList(), status.hasLeader() ? Views.leader(status.getLeader(), status.getBrokersCount()) : null,
                queue.getTenantsList().stream().map(Views::tenant).toList(), Views.resources(queue.getCapacity()), Views.instanceCounts(instances),
                newestFirst.stream().map(Views::instance).toList(), hidden, Views.time(com.google.protobuf.util.Timestamps.fromMillis(clock.millis())));
    }

    // ---- jobs ----

    @GET
    @Path("/jobs")
    public Response jobs(@QueryParam("state") String state, @QueryParam("tenant") String tenant, @QueryParam("label") String label,
                         @QueryParam("since") String since, @QueryParam("filter") String filter, @QueryParam("page") String page,
                         @Context RoutingContext rc) {
        return page(rc, "Jobs", "jobs", (chrome, client) -> {
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
                error = invalid(e);
            }
            return Templates.jobs(chrome, listed.getJobsList().stream().map(Views::job).toList(), blank(state), blank(tenant), blank(label),
                    blank(since), blank(filter), listed.getNextPageToken(), error);
        });
    }

    @GET
    @Path("/jobs/{job}")
    public Response job(@PathParam("job") String id, @QueryParam("tasks") String taskPage, @QueryParam("taskState") String taskState,
                        @Context RoutingContext rc) {
        return page(rc, "Job " + id, "jobs", (chrome, client) -> {
            Job job = client.getJob(id);
            String taskFilter = taskState == null || taskState.isBlank() ? "" : new FilterText().equal("state", taskState.trim().toUpperCase(Locale.ROOT)).text();
            ListTasksResponse tasks = client.call("ListTasks", () -> client.stub(JobServiceGrpc::newBlockingStub).listTasks(ListTasksRequest.newBuilder()
                    .setParent(job.getName()).setFilter(taskFilter).setPageSize(PAGE).setPageToken(taskPage == null ? "" : taskPage).build()));
            // Where the tasks are and why: every task of a job of up to 2,000, else its first 2,000.
            List<Task> sample;
            try (var all = client.listTasks(job.getName(), "")) {
                sample = all.limit(2000).toList();
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
            return Templates.job(chrome, Views.job(job), labels, Views.taskCounts(job), waiting, Views.groups(sample), sample.size() < job.getSpec().getTaskCount(),
                    tasks.getTasksList().stream().map(Views::task).toList(), blank(taskState), tasks.getNextPageToken(), decisions, decisionsHidden,
                    cancellable);
        });
    }

    @POST
    @Path("/jobs/{job}/cancel")
    @jakarta.ws.rs.Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    public Response cancel(@PathParam("job") String id, @FormParam("_csrf") String csrf, @Context RoutingContext rc) {
        csrf(rc, csrf);
        return page(rc, "Job " + id, "jobs", (chrome, client) -> {
            client.cancel(id);
            return null;
        }, Response.seeOther(URI.create("/console/jobs/" + Views.id(id))).build());
    }

    /** The output of a task's current attempt so far (the last 64 KiB); the page follows it live while the attempt runs. */
    @GET
    @Path("/jobs/{job}/tasks/{task}/log")
    public Response log(@PathParam("job") String id, @PathParam("task") int index, @QueryParam("stream") String stream, @Context RoutingContext rc) {
        return page(rc, "Log of task " + index, "jobs", (chrome, client) -> {
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
    @Path("/jobs/{job}/tasks/{task}/log/follow")
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

    // ---- policies ----

    @GET
    @Path("/policies")
    public Response policies(@QueryParam("page") String page, @Context RoutingContext rc) {
        return page(rc, "Policies", "policies", (chrome, client) -> {
            var versions = client.call("ListPolicyVersions", () -> client.stub(PolicyServiceGrpc::newBlockingStub).listPolicyVersions(
                    dev.spillway.api.v1.ListPolicyVersionsRequest.newBuilder().setPageSize(20).setPageToken(page == null ? "" : page).build()));
            return Templates.policies(chrome, versions.getVersionsList().stream().map(PolicyViews::version).toList(), versions.getNextPageToken(),
                    page == null || page.isEmpty(), currentText(client), "30", List.of(), false, List.of(), List.of(), List.of(), List.of(), "");
        });
    }

    @GET
    @Path("/policies/{version}")
    public Response policyVersion(@PathParam("version") long version, @Context RoutingContext rc) {
        return page(rc, "Policy version " + version, "policies", (chrome, client) -> {
            var these = client.call("GetPolicies", () -> client.stub(PolicyServiceGrpc::newBlockingStub)
                    .getPolicies(dev.spillway.api.v1.GetPoliciesRequest.newBuilder().setVersion(version).build()));
            java.util.Map<String, String> before = new java.util.TreeMap<>();
            long previous = version - 1;
            if (previous >= 1) {
                try {
                    client.call("GetPolicies", () -> client.stub(PolicyServiceGrpc::newBlockingStub)
                            .getPolicies(dev.spillway.api.v1.GetPoliciesRequest.newBuilder().setVersion(previous).build()))
                            .getFilesList().forEach(f -> before.put(f.getName(), f.getText()));
                } catch (StatusRuntimeException e) {
                    if (e.getStatus().getCode() != Status.Code.NOT_FOUND) throw e;
                }
            }
            java.util.Map<String, String> after = new java.util.TreeMap<>();
            these.getFilesList().forEach(f -> after.put(f.getName(), f.getText()));
            String diff = dev.spillway.core.text.LineDiff.files("v" + previous, before, "v" + version, after);
            return Templates.policyVersion(chrome, PolicyViews.version(these.getVersion()),
                    these.getFilesList().stream().map(f -> new PolicyViews.FileView(f.getName(), f.getText())).toList(), PolicyViews.diff(diff), previous);
        });
    }

    /** What-if: the candidate set against the set in force, replaying the recorded history; nothing is stored. */
    @POST
    @Path("/policies/whatif")
    @jakarta.ws.rs.Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    public Response whatIf(@FormParam("candidate") String candidate, @FormParam("since") String since, @FormParam("_csrf") String csrf,
                           @Context RoutingContext rc) {
        csrf(rc, csrf);
        return page(rc, "Policies", "policies", (chrome, client) -> {
            var versions = client.call("ListPolicyVersions", () -> client.stub(PolicyServiceGrpc::newBlockingStub).listPolicyVersions(
                    dev.spillway.api.v1.ListPolicyVersionsRequest.newBuilder().setPageSize(20).build()));
            List<PolicyViews.VersionRow> rows = versions.getVersionsList().stream().map(PolicyViews::version).toList();
            int days = switch (since == null ? "" : since) {
                case "1" -> 1;
                case "7" -> 7;
                case "90" -> 90;
                default -> 30;
            };
            List<dev.spillway.api.v1.PolicyFile> files = PolicyViews.split(candidate == null ? "" : candidate);
            try {
                // A replay takes a while on a long history: a deadline of its own.
                var answer = PolicyServiceGrpc.newBlockingStub(client.channel()).withDeadlineAfter(2, java.util.concurrent.TimeUnit.MINUTES)
                        .whatIf(dev.spillway.api.v1.WhatIfRequest.newBuilder().addAllFiles(files)
                                .setSince(com.google.protobuf.Duration.newBuilder().setSeconds(days * 86_400L)).build());
                String replayed = answer.getJobs() + " job(s), " + answer.getTasks() + " task(s) from the last " + days + " day(s), replayed in "
                        + answer.getElapsed().getSeconds() + "." + String.format(Locale.ROOT, "%03d", answer.getElapsed().getNanos() / 1_000_000) + " s";
                return Templates.policies(chrome, rows, versions.getNextPageToken(), true, candidate, Integer.toString(days), List.of(), true,
                        PolicyViews.sides(answer), PolicyViews.tenants(answer), answer.getDifferencesList(), answer.getNotesList(), replayed);
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT) throw e;
                List<String> problems = new ArrayList<>();
                SpillwayClient.violations(e).forEach(v -> problems.add(v.getField() + ": " + v.getDescription()));
                if (problems.isEmpty()) problems.add(String.valueOf(e.getStatus().getDescription()));
                return Templates.policies(chrome, rows, versions.getNextPageToken(), true, candidate, Integer.toString(days), problems, false,
                        List.of(), List.of(), List.of(), List.of(), "");
            }
        });
    }

    /** The set in force as one text to edit; a starting comment when there is none. */
    private static String currentText(SpillwayClient client) {
        try {
            var current = client.call("GetPolicies", () -> client.stub(PolicyServiceGrpc::newBlockingStub)
                    .getPolicies(dev.spillway.api.v1.GetPoliciesRequest.getDefaultInstance()));
            if (current.getFilesCount() > 0) return PolicyViews.joined(current.getFilesList());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.NOT_FOUND) throw e;
        }
        return "# No policy set is in force. Write candidate documents (apiVersion: spillway.dev/v1) here;\n"
                + "# start each file with a line '# --- file: NAME.yaml ---' to keep files apart.\n";
    }

    // ---- costs ----

    /** The windows the costs page offers: how far back, and cut into hours or days. */
    enum Range {
        DAY("24h", java.time.temporal.ChronoUnit.HOURS), WEEK("7d", java.time.temporal.ChronoUnit.DAYS),
        MONTH_BACK("30d", java.time.temporal.ChronoUnit.DAYS), THIS_MONTH("month", java.time.temporal.ChronoUnit.DAYS);

        final String label;
        final java.time.temporal.ChronoUnit interval;

        Range(String label, java.time.temporal.ChronoUnit interval) {
            this.label = label;
            this.interval = interval;
        }

        static Range of(String label) {
            for (Range r : values()) if (r.label.equals(label)) return r;
            return WEEK;
        }

        Instant start(Instant now) {
            java.time.ZonedDateTime utc = now.atZone(java.time.ZoneOffset.UTC);
            return switch (this) {
                case DAY -> now.minus(24, ChronoUnit.HOURS).truncatedTo(ChronoUnit.HOURS);
                case WEEK -> utc.truncatedTo(ChronoUnit.DAYS).minusDays(6).toInstant();
                case MONTH_BACK -> utc.truncatedTo(ChronoUnit.DAYS).minusDays(29).toInstant();
                case THIS_MONTH -> utc.truncatedTo(ChronoUnit.DAYS).withDayOfMonth(1).toInstant();
            };
        }
    }

    @GET
    @Path("/costs")
    public Response costs(@QueryParam("range") String rangeLabel, @QueryParam("by") String byParam, @QueryParam("label") String labelKey,
                          @Context RoutingContext rc) {
        return page(rc, "Costs", "costs", (chrome, client) -> {
            Range range = Range.of(rangeLabel);
            String by = byParam == null || byParam.isBlank() ? "tenant" : byParam.trim();
            String groupBy = by.equals("label") ? "label:" + (labelKey == null ? "" : labelKey.trim()) : by;
            Instant now = clock.instant();
            Instant start = range.start(now);
            dev.spillway.api.v1.GetCostReportResponse report = client.call("GetCostReport", () -> client.stub(dev.spillway.api.v1.CostServiceGrpc::newBlockingStub)
                    .getCostReport(dev.spillway.api.v1.GetCostReportRequest.newBuilder().setGroupBy(groupBy).setStartTime(ts(start)).setEndTime(ts(now))
                            .setInterval(range.interval == ChronoUnit.HOURS ? dev.spillway.api.v1.CostInterval.COST_INTERVAL_HOUR
                                    : dev.spillway.api.v1.CostInterval.COST_INTERVAL_DAY).build()));
            dev.spillway.api.v1.GetCostReportResponse jobs = client.call("GetCostReport", () -> client.stub(dev.spillway.api.v1.CostServiceGrpc::newBlockingStub)
                    .getCostReport(dev.spillway.api.v1.GetCostReportRequest.newBuilder().setGroupBy("job").setStartTime(ts(start)).setEndTime(ts(now)).build()));
            List<CostViews.BudgetRow> budgets = new ArrayList<>();
            var listed = client.call("ListBudgets", () -> client.stub(dev.spillway.api.v1.BudgetServiceGrpc::newBlockingStub)
                    .listBudgets(dev.spillway.api.v1.ListBudgetsRequest.newBuilder().setPageSize(50).build()));
            for (dev.spillway.api.v1.Budget b : listed.getBudgetsList()) {
                dev.spillway.api.v1.GetCostReportResponse spending = null;
                if (!b.getTenant().startsWith("cohort:") && b.hasPeriodStart()) {
                    long hours = Math.max(1, (now.getEpochSecond() - b.getPeriodStart().getSeconds()) / 3600);
                    spending = client.call("GetCostReport", () -> client.stub(dev.spillway.api.v1.CostServiceGrpc::newBlockingStub)
                            .getCostReport(dev.spillway.api.v1.GetCostReportRequest.newBuilder().setTenant(b.getTenant()).setStartTime(b.getPeriodStart())
                                    .setEndTime(ts(now)).setInterval(hours <= 72 ? dev.spillway.api.v1.CostInterval.COST_INTERVAL_HOUR
                                            : dev.spillway.api.v1.CostInterval.COST_INTERVAL_DAY).build()));
                }
                budgets.add(CostViews.budget(b, spending));
            }
            String what = by.equals("label") ? "label" : by;
            List<CostViews.GroupRow> top = jobs.getGroupsList().stream().filter(g -> !g.getKey().isEmpty()).limit(10)
                    .map(g -> CostViews.group(g, "job")).toList();
            java.time.LocalDate today = now.atZone(java.time.ZoneOffset.UTC).toLocalDate();
            return Templates.costs(chrome, range.label, by, labelKey == null ? "" : labelKey, CostViews.totals(report),
                    report.getGroupsList().stream().map(g -> CostViews.group(g, what)).toList(), CostViews.spendChart(report, what),
                    CostViews.kindChart(report), range.interval == ChronoUnit.HOURS ? "hour" : "day", top, budgets,
                    today.withDayOfMonth(1).toString(), today.plusDays(1).toString());
        });
    }

    /** The ledger of a period as a FOCUS 1.2 CSV file, streamed from ExportCosts as the caller may read it. */
    @GET
    @Path("/costs/export")
    @Produces("text/csv")
    public Response export(@QueryParam("from") String from, @QueryParam("to") String to, @Context RoutingContext rc) {
        ConsoleSessions.Session session = rc.get(ConsoleGate.SESSION);
        java.time.LocalDate start;
        java.time.LocalDate end;
        try {
            start = java.time.LocalDate.parse(from);
            end = java.time.LocalDate.parse(to);
        } catch (RuntimeException e) {
            return Response.status(400).type(MediaType.TEXT_PLAIN_TYPE).entity("from and to are dates, YYYY-MM-DD\n").build();
        }
        SpillwayClient client = calls.as(session.credential());
        var request = dev.spillway.api.v1.ExportCostsRequest.newBuilder().setFormat("focus")
                .setStartTime(ts(start.atStartOfDay(java.time.ZoneOffset.UTC).toInstant())).setEndTime(ts(end.atStartOfDay(java.time.ZoneOffset.UTC).toInstant())).build();
        java.util.Iterator<dev.spillway.api.v1.ExportCostsResponse> chunks;
        dev.spillway.api.v1.ExportCostsResponse first;
        try {
            chunks = dev.spillway.api.v1.CostServiceGrpc.newBlockingStub(client.channel())
                    .withDeadlineAfter(5, java.util.concurrent.TimeUnit.MINUTES).exportCosts(request);
            // The first chunk (or the refusal) before the answer starts, so that an error is a page, not half a file.
            first = chunks.hasNext() ? chunks.next() : null;
        } catch (StatusRuntimeException e) {
            return Response.status(e.getStatus().getCode() == Status.Code.PERMISSION_DENIED ? 403 : e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT ? 400 : 503)
                    .type(MediaType.TEXT_PLAIN_TYPE).entity("the export was refused: " + (e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT ? invalid(e)
                            : e.getStatus().getDescription()) + "\n").build();
        }
        jakarta.ws.rs.core.StreamingOutput body = out -> {
            if (first != null) first.getChunk().writeTo(out);
            while (chunks.hasNext()) chunks.next().getChunk().writeTo(out);
        };
        return Response.ok(body, "text/csv; charset=utf-8")
                .header("Content-Disposition", "attachment; filename=\"spillway-focus-" + start + "-to-" + end + ".csv\"").build();
    }

    private static com.google.protobuf.Timestamp ts(Instant t) {
        return com.google.protobuf.Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }

    // ---- shared ----

    /** Renders a page for the signed-in caller, or the page that says what went wrong; the caller is sent to sign in again when its key no longer holds. */
    private Response page(RoutingContext rc, String title, String section, Page render) {
        return page(rc, title, section, render, null);
    }

    private Response page(RoutingContext rc, String title, String section, Page render, Response after) {
        ConsoleSessions.Session session = rc.get(ConsoleGate.SESSION);
        Views.Chrome chrome = new Views.Chrome(title, section, session.subject(), session.role(),
                session.allTenants() ? "every tenant" : String.join(", ", session.tenants()), session.finops(), session.csrf());
        try {
            TemplateInstance page = render.render(chrome, calls.as(session.credential()));
            return page == null ? after : Response.ok(page.render()).type(MediaType.TEXT_HTML_TYPE.withCharset("utf-8")).build();
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            if (code == Status.Code.UNAUTHENTICATED) {
                return Response.seeOther(URI.create("/console/login?next=" + java.net.URLEncoder.encode(safeNext(rc.request().uri()), StandardCharsets.UTF_8)))
                        .header("Set-Cookie", cookie(rc, ConsoleSessions.COOKIE, "", 0, "/console")).build();
            }
            int status = switch (code) {
                case NOT_FOUND -> 404;
                case PERMISSION_DENIED -> 403;
                case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> 400;
                case RESOURCE_EXHAUSTED -> 429;
                default -> 503;
            };
            String heading = switch (code) {
                case NOT_FOUND -> "Not found";
                case PERMISSION_DENIED -> "Not allowed";
                case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> "Not possible";
                case RESOURCE_EXHAUSTED -> "Too many requests";
                default -> "The broker could not answer";
            };
            if (status == 503) LOG.warnf("console page %s failed: %s", rc.request().path(), e.getStatus());
            String message = code == Status.Code.INVALID_ARGUMENT ? invalid(e) : e.getStatus().getDescription() == null ? code.name() : e.getStatus().getDescription();
            return Response.status(status).entity(Templates.problem(chrome, heading, message).render()).type(MediaType.TEXT_HTML_TYPE.withCharset("utf-8")).build();
        }
    }

    @FunctionalInterface
    private interface Page {
        TemplateInstance render(Views.Chrome chrome, SpillwayClient client);
    }

    /** Refuses a form without this session's CSRF token. */
    private static void csrf(RoutingContext rc, String token) {
        ConsoleSessions.Session session = rc.get(ConsoleGate.SESSION);
        if (session == null || !session.csrfMatches(token)) {
            throw new jakarta.ws.rs.WebApplicationException(Response.status(403).type(MediaType.TEXT_PLAIN_TYPE)
                    .entity("refused: the form's anti-forgery token is missing or stale; reload the page and try again\n").build());
        }
    }

    private static String invalid(StatusRuntimeException e) {
        List<String> parts = new ArrayList<>();
        SpillwayClient.violations(e).forEach(v -> parts.add(v.getField() + ": " + v.getDescription()));
        return parts.isEmpty() ? String.valueOf(e.getStatus().getDescription()) : String.join("; ", parts);
    }

    private static String blank(String s) {
        return s == null ? "" : s;
    }
}
