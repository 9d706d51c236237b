package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.rpc.BadRequest;
import dev.spillway.api.v1.ApplyPoliciesRequest;
import dev.spillway.api.v1.ApplyPoliciesResponse;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.GetPoliciesRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListPolicyVersionsRequest;
import dev.spillway.api.v1.PolicyFile;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.net.URL;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The policy set over real gRPC: a FinOps user applies rules that admission then enforces, a
 * wrong document is refused whole with its line and column, and only finops and admin may apply.
 * The rules match a label unique to each run: the test database and broker are shared with the
 * other tests, and a set applied here stays in force after it.
 */
@QuarkusTest
class PolicyApiTest {

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    Pool pool;

    private final String run = "pii-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<String> submitted = new ArrayList<>();

    private ManagedChannel as(String tenant, Role role) {
        ManagedChannel c = TestCallers.channel(url, TestCallers.key(keys, tenant, role));
        channels.add(c);
        return c;
    }

    private PolicyServiceGrpc.PolicyServiceBlockingStub policies(String tenant, Role role) {
        return PolicyServiceGrpc.newBlockingStub(as(tenant, role));
    }

    private JobServiceGrpc.JobServiceBlockingStub submitter;

    @BeforeEach
    void connect() {
        submitter = JobServiceGrpc.newBlockingStub(as("team-b", Role.SUBMITTER));
    }

    @AfterEach
    void disconnect() {
        submitted.forEach(id -> submitter.cancelJob(CancelJobRequest.newBuilder().setName(id).build()));
        channels.forEach(ManagedChannel::shutdownNow);
    }

    private String residencyPolicy() {
        return """
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: residency}
                spec:
                  admission:
                    - name: %1$s-needs-jurisdictions
                      match: '"%1$s" in job.labels && job.labels["%1$s"] == "true" && size(job.jurisdictions) == 0'
                      message: '"job " + job.name + " holds personal data: list the jurisdictions it may run in"'
                      action: Deny
                    - name: %1$s-noted
                      match: '"%1$s" in job.labels && job.labels["%1$s"] == "true"'
                      message: '"personal data in " + job.tenant'
                      action: Audit
                """.formatted(run);
    }

    private static ApplyPoliciesRequest files(String... nameAndText) {
        ApplyPoliciesRequest.Builder b = ApplyPoliciesRequest.newBuilder();
        for (int i = 0; i < nameAndText.length; i += 2) b.addFiles(PolicyFile.newBuilder().setName(nameAndText[i]).setText(nameAndText[i + 1]));
        return b.build();
    }

    private String submit(Map<String, String> labels, List<String> jurisdictions) {
        JobSpec.Builder spec = JobApiTest.valid().toBuilder().setTaskCount(1).putAllLabels(labels);
        spec.getTaskBuilder().addAllJurisdictions(jurisdictions);
        String id = submitter.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid();
        submitted.add(id);
        return id;
    }

    private long versions() {
        return pool.query("SELECT count(*) AS n FROM policy_version").execute().await().indefinitely().iterator().next().getLong("n");
    }

    @Test
    void aFinopsUserAppliesARuleThatAdmissionThenEnforces() {
        // A node in the EU (its jurisdiction fixed by its join token), so that a job asking for the EU passes the node-fit check.
        String name = "eu-node-" + run;
        String token = dev.spillway.api.v1.NodeServiceGrpc.newBlockingStub(as("default", Role.ADMIN)).createJoinToken(
                dev.spillway.api.v1.CreateJoinTokenRequest.newBuilder().setNodeName(name).setPool("onprem")
                        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(600)).putLabels("spillway.dev/jurisdiction", "EU").build())
                .getToken();
        try (FakeAgent eu = new FakeAgent(url.getHost(), url.getPort(), name, token)) {
            eu.send(dev.spillway.api.agent.v1.ConnectRequest.newBuilder().setRegister(dev.spillway.api.agent.v1.Register.newBuilder()
                    .setNodeName(name).setPool("onprem")
                    .setCapacity(dev.spillway.api.v1.Resources.newBuilder().setCpuMillis(4000).setMemoryMib(4096))).build());
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> eu.registered() != null);
            appliesAndEnforces();
        }
    }

    private void appliesAndEnforces() {
        var finops = policies("team-a", Role.FINOPS);
        ApplyPoliciesResponse applied = finops.applyPolicies(files("residency.yaml", residencyPolicy()).toBuilder().setComment("pii stays put").build());
        assertThat(applied.getChanged()).isTrue();
        assertThat(applied.getVersion().getAdmissionRules()).isEqualTo(2);
        assertThat(applied.getVersion().getAppliedBy()).startsWith("apikey:");

        // Another tenant's submitter is held to the rule: refused with the rule, its message and the version.
        var refused = catchThrowableOfType(StatusRuntimeException.class, () -> submit(Map.of(run, "true"), List.of()));
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        BadRequest bad = badRequest(refused);
        assertThat(bad.getFieldViolationsList()).singleElement().satisfies(v -> {
            assertThat(v.getField()).isEqualTo("policy/residency/" + run + "-needs-jurisdictions");
            assertThat(v.getDescription()).contains("holds personal data").contains("policy version " + applied.getVersion().getVersion());
        });
        // A program branches on the ErrorInfo, not on the text.
        com.google.rpc.ErrorInfo info = ApiErrors.errorInfoOf(refused);
        assertThat(info.getReason()).isEqualTo("POLICY_DENIED");
        assertThat(info.getMetadataMap()).containsEntry("policy", "residency").containsEntry("rule", run + "-needs-jurisdictions")
                .containsEntry("policy_version", Long.toString(applied.getVersion().getVersion()));
        // With jurisdictions, or without the label, the same job is admitted (the Audit rule only logs).
        assertThat(submit(Map.of(run, "true"), List.of("EU"))).isNotEmpty();
        assertThat(submit(Map.of(), List.of())).isNotEmpty();

        // The same files again store nothing.
        ApplyPoliciesResponse again = finops.applyPolicies(files("residency.yaml", residencyPolicy()));
        assertThat(again.getChanged()).isFalse();
        assertThat(again.getVersion().getVersion()).isEqualTo(applied.getVersion().getVersion());

        // What is in force can be read back, and listed.
        var operator = policies("team-a", Role.OPERATOR);
        var current = operator.getPolicies(GetPoliciesRequest.getDefaultInstance());
        assertThat(current.getVersion().getVersion()).isEqualTo(applied.getVersion().getVersion());
        assertThat(current.getFilesList()).singleElement().satisfies(f -> assertThat(f.getText()).isEqualTo(residencyPolicy()));
        assertThat(operator.listPolicyVersions(ListPolicyVersionsRequest.getDefaultInstance()).getVersions(0).getComment())
                .isEqualTo("pii stays put");
        var missing = catchThrowableOfType(StatusRuntimeException.class,
                () -> operator.getPolicies(GetPoliciesRequest.newBuilder().setVersion(1_000_000).build()));
        assertThat(missing.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    }

    @Test
    void aJobSubmittedToAQueueTakesItsTenantAndItsDefaultPriority() {
        policies("default", Role.ADMIN).applyPolicies(files("queues.yaml", """
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: team-b}
                spec: {weight: 1}
                ---
                apiVersion: spillway.dev/v1
                kind: Queue
                metadata: {name: team-b-urgent}
                spec: {tenant: team-b, defaultPriority: 500}
                """));
        try {
            JobSpec queued = JobApiTest.valid().toBuilder().setQueue("team-b-urgent").build();
            // No tenant and no priority: the queue's.
            JobSpec stored = spec(submitter.submitJob(SubmitJobRequest.newBuilder().setSpec(queued).build()).getUid());
            assertThat(stored.getTenant()).isEqualTo("team-b");
            assertThat(stored.getPriority()).isEqualTo(500);
            assertThat(stored.getQueue()).isEqualTo("team-b-urgent");
            // A priority of its own, even 0, is kept.
            assertThat(spec(submitter.submitJob(SubmitJobRequest.newBuilder().setSpec(queued.toBuilder().setPriority(0)).build()).getUid())
                    .getPriority()).isZero();

            // A queue that is not in force, and a queue of another tenant than the job names: refused on spec.queue.
            var unknown = catchThrowableOfType(StatusRuntimeException.class, () -> submitter.submitJob(SubmitJobRequest.newBuilder()
                    .setSpec(queued.toBuilder().setQueue("nosuch")).build()));
            assertThat(unknown.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(badRequest(unknown).getFieldViolationsList()).singleElement().satisfies(v -> {
                assertThat(v.getField()).isEqualTo("spec.queue");
                assertThat(v.getDescription()).isEqualTo("no queue named 'nosuch' (queues in force: team-b-urgent)");
            });
            var mismatch = catchThrowableOfType(StatusRuntimeException.class, () -> submitter.submitJob(SubmitJobRequest.newBuilder()
                    .setSpec(queued.toBuilder().setTenant("team-a")).build()));
            assertThat(badRequest(mismatch).getFieldViolationsList()).singleElement()
                    .satisfies(v -> assertThat(v.getDescription()).isEqualTo("queue team-b-urgent belongs to tenant team-b, not team-a"));

            // Another tenant's submitter cannot reach team-b through its queue.
            var other = JobServiceGrpc.newBlockingStub(as("team-a", Role.SUBMITTER));
            var denied = catchThrowableOfType(StatusRuntimeException.class, () -> other.submitJob(SubmitJobRequest.newBuilder().setSpec(queued).build()));
            assertThat(denied.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        } finally {
            NeutralPolicies.restore(as("default", Role.ADMIN));
        }
    }

    private JobSpec spec(String id) {
        submitted.add(id);
        return submitter.getJob(dev.spillway.api.v1.GetJobRequest.newBuilder().setName(id).build()).getSpec();
    }

    @Test
    void aWrongDocumentIsRefusedWholeWithItsLineAndColumnAndNothingIsStored() {
        long before = versions();
        String typeError = """
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: broken}
                spec:
                  admission:
                    - name: priority-words
                      match: job.priority > "high"
                      message: '"no"'
                      action: Deny
                """;
        var refused = catchThrowableOfType(StatusRuntimeException.class,
                () -> policies("team-a", Role.ADMIN).applyPolicies(files("fine.yaml", residencyPolicy(), "broken.yaml", typeError)));
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(badRequest(refused).getFieldViolationsList()).anySatisfy(v -> {
            assertThat(v.getField()).startsWith("files[broken.yaml]:7:");
            assertThat(v.getDescription()).isNotEmpty();
        });
        // NUL in a file, a file given twice: refused before anything is compiled.
        var control = catchThrowableOfType(StatusRuntimeException.class,
                () -> policies("team-a", Role.ADMIN).applyPolicies(files("a.yaml", "kind: Policy\u0000", "a.yaml", residencyPolicy())));
        assertThat(badRequest(control).getFieldViolationsList()).extracting(v -> v.getField())
                .contains("files[0].text", "files[1].name");
        assertThat(versions()).isEqualTo(before);
    }

    @Test
    void onlyFinopsAndAdminMayApplyAndSubmittersCannotReadTheRules() {
        long before = versions();
        for (Role role : List.of(Role.OPERATOR, Role.SUBMITTER, Role.VIEWER)) {
            var denied = catchThrowableOfType(StatusRuntimeException.class,
                    () -> policies("team-a", role).applyPolicies(files("residency.yaml", residencyPolicy())));
            assertThat(denied.getStatus().getCode()).as(role.label()).isEqualTo(Status.Code.PERMISSION_DENIED);
        }
        for (Role role : List.of(Role.SUBMITTER, Role.VIEWER)) {
            var denied = catchThrowableOfType(StatusRuntimeException.class,
                    () -> policies("team-b", role).getPolicies(GetPoliciesRequest.getDefaultInstance()));
            assertThat(denied.getStatus().getCode()).as(role.label()).isEqualTo(Status.Code.PERMISSION_DENIED);
        }
        assertThat(versions()).isEqualTo(before);
    }

    @Test
    void aCandidateSetIsTriedOnAJobAndNothingIsStored() {
        String name = "trial-" + run;
        String token = dev.spillway.api.v1.NodeServiceGrpc.newBlockingStub(as("default", Role.ADMIN)).createJoinToken(
                dev.spillway.api.v1.CreateJoinTokenRequest.newBuilder().setNodeName(name).setPool("onprem")
                        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(600)).build()).getToken();
        try (FakeAgent node = new FakeAgent(url.getHost(), url.getPort(), name, token)) {
            // Large: queued work other test classes leave behind (tasks without selectors) may land on it, and must not fill it.
            node.send(dev.spillway.api.agent.v1.ConnectRequest.newBuilder().setRegister(dev.spillway.api.agent.v1.Register.newBuilder()
                    .setNodeName(name).setPool("onprem").putLabels("run", run)
                    .setCapacity(dev.spillway.api.v1.Resources.newBuilder().setCpuMillis(64000).setMemoryMib(262144))).build());
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> node.registered() != null);
            node.runAssignments();
            long before = versions();
            String placement = """
                    apiVersion: spillway.dev/v1
                    kind: Policy
                    metadata: {name: placement}
                    spec:
                      filters:
                        - name: not-%1$s
                          match: node.name == "%1$s"
                          message: '"node " + node.name + " is kept for other work"'
                    """.formatted(name);
            JobSpec.Builder job = JobApiTest.valid().toBuilder().setTaskCount(1).putLabels(run, "true");
            job.getTaskBuilder().putNodeSelector("run", run);
            var r = policies("team-a", Role.FINOPS).testPolicies(dev.spillway.api.v1.TestPoliciesRequest.newBuilder()
                    .addFiles(PolicyFile.newBuilder().setName("residency.yaml").setText(residencyPolicy()))
                    .addFiles(PolicyFile.newBuilder().setName("placement.yaml").setText(placement)).setJob(job).build());

            assertThat(r.getAdmitted()).isFalse();
            assertThat(r.getAdmissionList()).extracting(o -> o.getRule() + " " + o.getAction())
                    .containsExactly("residency/" + run + "-needs-jurisdictions DENY", "residency/" + run + "-noted AUDIT");
            assertThat(r.getPoolsList()).filteredOn(p -> p.getPool().equals("onprem")).singleElement().satisfies(p -> {
                assertThat(p.getFeasible()).isZero();
                assertThat(p.getVetoesList()).anySatisfy(v -> {
                    assertThat(v.getFilter()).isEqualTo("policy/placement/not-" + name);
                    assertThat(v.getReason()).isEqualTo("node " + name + " is kept for other work");
                    assertThat(v.getTransient()).isFalse();
                    assertThat(v.getNodes()).isEqualTo(1);
                });
            });
            // Without the filter, the node takes it.
            var open = policies("team-a", Role.ADMIN).testPolicies(dev.spillway.api.v1.TestPoliciesRequest.newBuilder()
                    .addFiles(PolicyFile.newBuilder().setName("residency.yaml").setText(residencyPolicy())).setJob(job).build());
            assertThat(open.getPoolsList()).filteredOn(p -> p.getPool().equals("onprem")).singleElement()
                    .satisfies(p -> assertThat(p.getFeasible()).isEqualTo(1));
            assertThat(versions()).isEqualTo(before);

            // A broken candidate is refused as apply refuses it; a submitter may not try sets at all.
            var broken = catchThrowableOfType(StatusRuntimeException.class, () -> policies("team-a", Role.FINOPS).testPolicies(
                    dev.spillway.api.v1.TestPoliciesRequest.newBuilder().addFiles(PolicyFile.newBuilder().setName("b.yaml")
                            .setText("kind: Policy\nspec: [")).setJob(job).build()));
            assertThat(broken.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(badRequest(broken).getFieldViolationsList()).anySatisfy(v -> assertThat(v.getField()).startsWith("files[b.yaml]"));
            var denied = catchThrowableOfType(StatusRuntimeException.class, () -> policies("team-b", Role.SUBMITTER).testPolicies(
                    dev.spillway.api.v1.TestPoliciesRequest.newBuilder().setJob(job).build()));
            assertThat(denied.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(versions()).isEqualTo(before);
        }
    }

    @Test
    void aWhatIfReplaysATraceUnderBothSetsAndExplainsTheDifferenceStoringNothing() {
        long before = versions();
        // Two users; user 2's second job is 12 processors wide, which the candidate refuses.
        String swf = "; MaxProcs: 8\n"
                + "1 0 -1 60 2 -1 -1 2 -1 -1 1 1 1 -1 1 -1 -1 -1\n"
                + "2 10 -1 60 12 -1 -1 12 -1 -1 1 2 1 -1 1 -1 -1 -1\n"
                + "3 20 -1 60 1 -1 -1 1 -1 -1 1 2 1 -1 1 -1 -1 -1\n"
                + "not a job line\n";
        String candidate = """
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: finops}
                spec:
                  admission:
                    - name: narrow
                      match: job.tenant == "user-2" && job.tasks > 8
                      message: '"user-2 submits at most 8 tasks a job"'
                      action: Deny
                """;
        var request = dev.spillway.api.v1.WhatIfRequest.newBuilder().addFiles(PolicyFile.newBuilder().setName("c.yaml").setText(candidate))
                .setTrace(dev.spillway.api.v1.SwfWorkload.newBuilder().setText(swf)).build();
        var report = policies("team-a", Role.FINOPS).whatIf(request);
        assertThat(report.getJobs()).isEqualTo(3);
        assertThat(report.getSkippedLines()).isEqualTo(1);
        assertThat(report.getCurrent().getRefusedJobs()).isZero();
        assertThat(report.getCandidate().getRefusedJobs()).isEqualTo(1);
        assertThat(report.getCandidate().getWaitReasonsMap()).containsEntry("refused: finops/narrow: user-2 submits at most 8 tasks a job", 1);
        assertThat(report.getDifferencesList()).contains("jobs refused at submission: 0 -> 1");
        assertThat(report.getTenantsList()).extracting(dev.spillway.api.v1.WhatIfTenant::getTenant).containsExactly("user-1", "user-2");
        assertThat(report.getCandidate().getResidencyViolations()).isZero();
        assertThat(versions()).as("nothing stored").isEqualTo(before);

        // The history of this broker's database replays too (whatever the other tests submitted).
        var history = policies("team-a", Role.FINOPS).whatIf(request.toBuilder().clearTrace()
                .setSince(com.google.protobuf.Duration.newBuilder().setSeconds(3600)).build());
        assertThat(history.getCurrent().getPolicyVersion()).matches("v\\d+|none");
        assertThat(history.getCandidate().getPolicyVersion()).isEqualTo("candidate");
        assertThat(history.getNotesList()).anyMatch(n -> n.startsWith("the cluster is this broker's connected on-prem nodes"));

        // Bad input gets field violations; a submitter may not replay.
        var noFiles = catchThrowableOfType(StatusRuntimeException.class, () -> policies("team-a", Role.FINOPS).whatIf(request.toBuilder()
                .clearFiles().build()));
        assertThat(badRequest(noFiles).getFieldViolationsList()).anySatisfy(v -> assertThat(v.getField()).isEqualTo("files"));
        var noJobs = catchThrowableOfType(StatusRuntimeException.class, () -> policies("team-a", Role.FINOPS).whatIf(request.toBuilder()
                .setTrace(dev.spillway.api.v1.SwfWorkload.newBuilder().setText("garbage\n")).build()));
        assertThat(badRequest(noJobs).getFieldViolationsList()).anySatisfy(v -> {
            assertThat(v.getField()).isEqualTo("trace.text");
            assertThat(v.getDescription()).contains("no job line could be read").contains("line 1");
        });
        var tooLong = catchThrowableOfType(StatusRuntimeException.class, () -> policies("team-a", Role.FINOPS).whatIf(request.toBuilder()
                .clearTrace().setSince(com.google.protobuf.Duration.newBuilder().setSeconds(100L * 86400)).build()));
        assertThat(badRequest(tooLong).getFieldViolationsList()).anySatisfy(v -> assertThat(v.getField()).isEqualTo("since"));
        var denied = catchThrowableOfType(StatusRuntimeException.class, () -> policies("team-b", Role.SUBMITTER).whatIf(request));
        assertThat(denied.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    }

    private static BadRequest badRequest(StatusRuntimeException e) {
        try {
            var status = StatusProto.fromThrowable(e);
            assertThat(status).isNotNull();
            for (var any : status.getDetailsList()) {
                if (any.is(BadRequest.class)) return any.unpack(BadRequest.class);
            }
            throw new AssertionError("no BadRequest in " + status);
        } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
            throw new AssertionError(ex);
        }
    }
}
