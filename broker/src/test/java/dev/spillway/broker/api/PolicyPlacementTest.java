package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.v1.ApplyPoliciesRequest;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.CreateJoinTokenRequest;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.PolicyFile;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Placement rules and residency over the real path: a FinOps user applies a policy set, the
 * scheduling loop places by it, and a job a rule keeps off every node waits with the rule's name
 * and message. Nodes and jobs of each run carry a label unique to it (a node selector), so nodes
 * other tests leave connected take none of this test's work. The set is replaced by one without
 * placement rules at the end: the broker and database are shared with the other tests.
 */
@QuarkusTest
class PolicyPlacementTest {

    @TestHTTPResource
    URL url;

    @jakarta.inject.Inject
    dev.spillway.broker.security.ApiKeys keys;

    private final String run = "pl-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<FakeAgent> agents = new ArrayList<>();
    private final List<String> submitted = new ArrayList<>();

    private ManagedChannel as(String tenant, Role role) {
        ManagedChannel c = TestCallers.channel(url, TestCallers.key(keys, tenant, role));
        channels.add(c);
        return c;
    }

    @AfterEach
    void cleanUp() {
        var jobs = JobServiceGrpc.newBlockingStub(as("default", Role.ADMIN));
        submitted.forEach(id -> jobs.cancelJob(CancelJobRequest.newBuilder().setName(id).build()));
        NeutralPolicies.restore(as("default", Role.ADMIN));
        agents.forEach(FakeAgent::close);
        channels.forEach(ManagedChannel::shutdownNow);
    }

    /** A node of this run: in pool onprem, with the run's label and {@code labels}; its jurisdiction, if any, fixed by its join token. */
    private FakeAgent node(String name, String jurisdiction, Map<String, String> labels) {
        return node(name, jurisdiction == null ? Map.of() : Map.of("spillway.dev/jurisdiction", jurisdiction), labels);
    }

    /** A node of this run whose join token fixes {@code fixed} (labels under spillway.dev/). */
    private FakeAgent node(String name, Map<String, String> fixed, Map<String, String> labels) {
        CreateJoinTokenRequest.Builder token = CreateJoinTokenRequest.newBuilder().setNodeName(name).setPool("onprem")
                .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(600)).putAllLabels(fixed);
        String credential = NodeServiceGrpc.newBlockingStub(as("default", Role.ADMIN)).createJoinToken(token.build()).getToken();
        FakeAgent agent = new FakeAgent(url.getHost(), url.getPort(), name, credential);
        agents.add(agent);
        agent.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(name).setPool("onprem")
                .putLabels("run", run).putAllLabels(labels)
                .setCapacity(Resources.newBuilder().setCpuMillis(4000).setMemoryMib(4096))).build());
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.registered() != null);
        agent.runAssignments(); // heartbeats: the test's lease is 3 s
        return agent;
    }

    private static ApplyPoliciesRequest files(String... nameAndText) {
        ApplyPoliciesRequest.Builder b = ApplyPoliciesRequest.newBuilder();
        for (int i = 0; i < nameAndText.length; i += 2) b.addFiles(PolicyFile.newBuilder().setName(nameAndText[i]).setText(nameAndText[i + 1]));
        return b.build();
    }

    private String submit(JobServiceGrpc.JobServiceBlockingStub jobs, String tenant, Map<String, String> labels, String... datasets) {
        JobSpec.Builder spec = JobApiTest.valid().toBuilder().setTenant(tenant).setTaskCount(1).putAllLabels(labels).addAllDatasets(List.of(datasets));
        spec.getTaskBuilder().putNodeSelector("run", run);
        String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid();
        submitted.add(id);
        return id;
    }

    private static List<String> assignedJobs(FakeAgent agent) {
        return agent.received.stream().filter(ConnectResponse::hasAssign).map(r -> r.getAssign().getJobId()).toList();
    }

    @Test
    void filtersVetoWithTheirRuleScorersChooseAndTenantResidencyHolds() {
        FakeAgent slow = node("a-" + run, "US", Map.of("tier", "slow"));
        FakeAgent fast = node("b-" + run, "US", Map.of("tier", "fast"));
        String policy = """
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: %1$s-eu}
                spec: {jurisdictions: [EU]}
                ---
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: placement}
                spec:
                  filters:
                    - name: reserved
                      match: '"%1$s" in job.labels && job.labels["%1$s"] == "reserved-only"'
                      message: '"node " + node.name + " is not a reserved node"'
                  scorers:
                    - name: prefer-fast
                      score: 'node.labels.?tier.orValue("") == "fast" ? 1.0 : 0.0'
                      weight: 10
                """.formatted(run);
        PolicyServiceGrpc.newBlockingStub(as("team-a", Role.FINOPS)).applyPolicies(files("placement.yaml", policy));
        var jobs = JobServiceGrpc.newBlockingStub(as("default", Role.ADMIN));

        // The scorer outweighs the built-in ones: plain jobs go to the fast node, though the slow one comes first by name.
        String plain = submit(jobs, "default", Map.of());
        await().atMost(Duration.ofSeconds(10)).until(() -> assignedJobs(fast).contains(plain));
        assertThat(assignedJobs(slow)).doesNotContain(plain);

        // A job the filter keeps off every node waits, and says which rule and why.
        String kept = submit(jobs, "default", Map.of(run, "reserved-only"));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(kept).build())
                .getPendingReason())
                .contains("is not a reserved node [policy/placement/reserved]"));
        // A tenant whose document requires the EU never runs on these US nodes; its job says so.
        String eu = submit(jobs, run + "-eu", Map.of());
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(eu).build())
                .getPendingReason())
                .contains("node in US, outside the jurisdictions required by tenant " + run + "-eu [EU]")
                .contains("[policy/residency]"));

        // A node in the EU joins: the EU tenant's job goes there; the reserved-only job still waits.
        FakeAgent inEu = node("c-" + run, "EU", Map.of("tier", "slow"));
        await().atMost(Duration.ofSeconds(10)).until(() -> assignedJobs(inEu).contains(eu));
        assertThat(assignedJobs(slow)).doesNotContain(kept, eu);
        assertThat(assignedJobs(fast)).doesNotContain(kept, eu);
        assertThat(assignedJobs(inEu)).doesNotContain(kept);

        // The residency proof: the EU tenant reads where its attempt ran, under which version, and which rules allowed it there.
        long version = PolicyServiceGrpc.newBlockingStub(as("team-a", Role.FINOPS)).getPolicies(
                dev.spillway.api.v1.GetPoliciesRequest.getDefaultInstance()).getVersion().getVersion();
        var own = PolicyServiceGrpc.newBlockingStub(as(run + "-eu", Role.VIEWER));
        var log = own.listDecisions(dev.spillway.api.v1.ListDecisionsRequest.newBuilder().setFilter("tenant = " + run + "-eu").build()).getDecisionsList();
        assertThat(log).singleElement().satisfies(d -> {
            assertThat(d.getJob()).isEqualTo("jobs/" + eu);
            assertThat(d.getAttemptName()).isEqualTo("jobs/" + eu + "/tasks/0/attempts/1");
            assertThat(d.getNode()).isEqualTo("c-" + run);
            assertThat(d.getJurisdiction()).isEqualTo("EU");
            assertThat(d.getPolicyVersion()).isEqualTo(version);
            assertThat(d.getResidency()).isEqualTo("node in EU, within [EU] required by tenant " + run + "-eu [EU]");
            assertThat(d.getRulesList()).extracting(r -> r.getRule() + " " + r.getOutcome())
                    .contains("policy/residency allowed", "policy/placement/prefer-fast scored");
        });
        // Another tenant finds nothing of this tenant's by filter, and may not read its job's attempts.
        var other = PolicyServiceGrpc.newBlockingStub(as("team-a", Role.SUBMITTER));
        assertThat(other.listDecisions(dev.spillway.api.v1.ListDecisionsRequest.newBuilder().setFilter("tenant = " + run + "-eu").build())
                .getDecisionsList()).isEmpty();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> other.listDecisions(dev.spillway.api.v1.ListDecisionsRequest.newBuilder()
                        .setParent("jobs/" + eu).build()))
                .isInstanceOfSatisfying(io.grpc.StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.NOT_FOUND));
        assertThat(other.listDecisions(dev.spillway.api.v1.ListDecisionsRequest.getDefaultInstance()).getDecisionsList())
                .as("team-a's unfiltered log").noneMatch(d -> d.getTenant().equals(run + "-eu"));
        // A page token is bound to its filter (this run placed two jobs: a first page of one has a next).
        var all = PolicyServiceGrpc.newBlockingStub(as("team-a", Role.FINOPS));
        var page = all.listDecisions(dev.spillway.api.v1.ListDecisionsRequest.newBuilder().setPageSize(1).build());
        assertThat(page.getNextPageToken()).isNotEmpty();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> all.listDecisions(dev.spillway.api.v1.ListDecisionsRequest.newBuilder()
                        .setParent(eu).setPageToken(page.getNextPageToken()).build()))
                .isInstanceOfSatisfying(io.grpc.StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT));
    }

    @Test
    void aDatasetHeavyJobRunsWhereItsDataIsThoughComputeThereIsDearerAndItsAttemptShowsTheEgress() {
        FakeAgent far = node("f-" + run, Map.of("spillway.dev/site", run + "-b"), Map.of("tier", "cheap"));
        FakeAgent near = node("g-" + run, Map.of("spillway.dev/site", run + "-a"), Map.of("tier", "dear"));
        String policy = """
                apiVersion: spillway.dev/v1
                kind: Dataset
                metadata: {name: genomes-%1$s}
                spec: {location: "site:%1$s-a", size: 50Gi}
                ---
                apiVersion: spillway.dev/v1
                kind: EgressPrices
                metadata: {name: wan}
                spec:
                  prices:
                    - {from: "site:%1$s-a", to: "*", usdPerGb: 0.02}
                ---
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: placement}
                spec:
                  scorers:
                    - name: prefer-cheap
                      score: 'node.labels.?tier.orValue("") == "cheap" ? 1.0 : 0.0'
                      weight: 1
                """.formatted(run);
        PolicyServiceGrpc.newBlockingStub(as("team-a", Role.FINOPS)).applyPolicies(files("gravity.yaml", policy));
        var jobs = JobServiceGrpc.newBlockingStub(as("default", Role.ADMIN));

        // Without data, the cheaper node; reading 50 GiB kept at site a, the node at site a, though it is the dearer one.
        String plain = submit(jobs, "default", Map.of());
        await().atMost(Duration.ofSeconds(10)).until(() -> assignedJobs(far).contains(plain));
        String heavy = submit(jobs, "default", Map.of(), "genomes-" + run);
        await().atMost(Duration.ofSeconds(10)).until(() -> assignedJobs(near).contains(heavy));
        assertThat(assignedJobs(far)).doesNotContain(heavy);

        // Its attempt's decision says what running elsewhere would have moved: 53.7 GB at 0.02 USD/GB.
        var attempt = PolicyServiceGrpc.newBlockingStub(as("default", Role.VIEWER)).listDecisions(dev.spillway.api.v1.ListDecisionsRequest
                .newBuilder().setParent(heavy).build()).getDecisions(0);
        assertThat(attempt.getLocation()).isEqualTo("site:" + run + "-a");
        assertThat(attempt.getRulesList()).filteredOn(r -> r.getRule().equals("policy/data-gravity")).singleElement()
                .satisfies(r -> assertThat(r.getDetail()).startsWith("here (site:" + run + "-a): nothing moves; elsewhere: ")
                        .contains("site:" + run + "-b +1.07 USD egress for 53.7 GB of genomes-" + run + " from site:" + run + "-a"));
    }
}
