package dev.spillway.broker.api.console;

import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.client.SpillwayClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import io.smallrye.common.annotation.Blocking;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The console's policy pages (finops, admin): versions, a version's files and diff, and what-if. */
@Path("/console/policies")
@Produces(MediaType.TEXT_HTML)
@Blocking
public class ConsolePolicies {

    @CheckedTemplate(basePath = "console")
    static class Templates {
        static native TemplateInstance policies(Views.Chrome chrome, List<PolicyViews.VersionRow> versions, String next, boolean inForce, String candidate,
                                                String since, List<String> problems, boolean ran, List<PolicyViews.Comparison> sides,
                                                List<PolicyViews.TenantComparison> tenants, List<String> differences, List<String> notes, String replayed);

        static native TemplateInstance policyVersion(Views.Chrome chrome, PolicyViews.VersionRow version, List<PolicyViews.FileView> files,
                                                     List<PolicyViews.DiffLine> diff, long previous);
    }

    private final ConsolePages pages;

    public ConsolePolicies(ConsolePages pages) {
        this.pages = pages;
    }

    @GET
    @Path("")
    public Response policies(@QueryParam("page") String page, @Context RoutingContext rc) {
        return pages.page(rc, "Policies", "policies", (chrome, client) -> {
            var versions = client.call("ListPolicyVersions", () -> client.stub(PolicyServiceGrpc::newBlockingStub).listPolicyVersions(
                    dev.spillway.api.v1.ListPolicyVersionsRequest.newBuilder().setPageSize(20).setPageToken(page == null ? "" : page).build()));
            return Templates.policies(chrome, versions.getVersionsList().stream().map(PolicyViews::version).toList(), versions.getNextPageToken(),
                    page == null || page.isEmpty(), currentText(client), "30", List.of(), false, List.of(), List.of(), List.of(), List.of(), "");
        });
    }

    @GET
    @Path("/{version}")
    public Response policyVersion(@PathParam("version") long version, @Context RoutingContext rc) {
        return pages.page(rc, "Policy version " + version, "policies", (chrome, client) -> {
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
    @Path("/whatif")
    @jakarta.ws.rs.Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    public Response whatIf(@FormParam("candidate") String candidate, @FormParam("since") String since, @FormParam("_csrf") String csrf,
                           @Context RoutingContext rc) {
        ConsolePages.csrf(rc, csrf);
        return pages.page(rc, "Policies", "policies", (chrome, client) -> {
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
}
