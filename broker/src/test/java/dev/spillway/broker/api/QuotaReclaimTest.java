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
import dev.spillway.api.v1.ListTasksRequest;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.PolicyFile;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Tenant quotas in a cohort, over the real path: two tenants share a cohort, one borrows the
 * other's idle quota, and when the lender's work arrives the borrowed work is preempted (killed on
 * its node, re-queued without using a retry) and the lender's tasks take its place. The node and
 * jobs carry a label unique to the run; the set is replaced by one without quotas at the end.
 */
@QuarkusTest
class QuotaReclaimTest {

    @TestHTTPResource
    URL url;

    @jakarta.inject.Inject
    dev.spillway.broker.security.ApiKeys keys;

    private final String run = "q-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<String> submitted = new ArrayList<>();
    private FakeAgent agent;

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
        if (agent != null) agent.close();
        channels.forEach(ManagedChannel::shutdownNow);
    }

    private String submit(JobServiceGrpc.JobServiceBlockingStub jobs, String tenant, int tasks) {
        JobSpec.Builder spec = JobApiTest.valid().toBuilder().setTenant(tenant).setTaskCount(tasks);
        spec.getTaskBuilder().setResources(dev.spillway.api.v1.Resources.newBuilder().setCpuMillis(1000).setMemoryMib(256))
                .putNodeSelector("run", run);
        String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid();
        submitted.add(id);
        return id;
    }

    private List<ConnectResponse> received(java.util.function.Predicate<ConnectResponse> which, String job) {
        return agent.received.stream().filter(which)
                .filter(r -> (r.hasAssign() && r.getAssign().getJobId().equals(job)) || (r.hasKill() && r.getKill().getJobId().equals(job)))
                .toList();
    }

    @Test
    void aBorrowerUsesIdleQuotaAndGivesItBackWhenTheLenderNeedsIt() {
        String node = "quota-" + run;
        String token = NodeServiceGrpc.newBlockingStub(as("default", Role.ADMIN)).createJoinToken(CreateJoinTokenRequest.newBuilder()
                .setNodeName(node).setPool("onprem").setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(600)).build()).getToken();
        agent = new FakeAgent(url.getHost(), url.getPort(), node, token);
        // Twice what the quotas let the two tenants use: the quotas, not the node, hold the work back, and queued work other test
        // classes leave behind (tasks without selectors) may land on it without changing what this test sees.
        agent.send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(node).setPool("onprem").putLabels("run", run)
                .setCapacity(Resources.newBuilder().setCpuMillis(8000).setMemoryMib(8192))).build());
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.registered() != null);
        agent.runAssignments();

        String lender = run + "-lender";
        String borrower = run + "-borrower";
        String quotas = """
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: %1$s}
                spec:
                  cohort: %3$s
                  reclaimWithinCohort: Any
                  quotas:
                    - flavor: onprem
                      resources: {cpu: {nominal: 2}, memory: {nominal: 2Gi}}
                ---
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: %2$s}
                spec:
                  cohort: %3$s
                  quotas:
                    - flavor: onprem
                      resources: {cpu: {nominal: 2}, memory: {nominal: 2Gi}}
                """.formatted(lender, borrower, run);
        PolicyServiceGrpc.newBlockingStub(as("default", Role.FINOPS)).applyPolicies(ApplyPoliciesRequest.newBuilder()
                .addFiles(PolicyFile.newBuilder().setName("quotas.yaml").setText(quotas)).build());
        var jobs = JobServiceGrpc.newBlockingStub(as("default", Role.ADMIN));

        // The lender is idle: the borrower runs 4 tasks on its nominal 2 cpus plus the lender's 2.
        String borrowed = submit(jobs, borrower, 4);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(received(ConnectResponse::hasAssign, borrowed))
                .as("%s", jobs.getJob(GetJobRequest.newBuilder().setName(borrowed).build()).getPendingReason()).hasSize(4));

        // The lender's work arrives: two of the borrower's tasks are preempted, and the lender's run in their place.
        String lent = submit(jobs, lender, 2);
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(received(ConnectResponse::hasAssign, lent))
                .as("lender waits: %s; borrower: %s", jobs.getJob(GetJobRequest.newBuilder().setName(lent).build()),
                        jobs.getJob(GetJobRequest.newBuilder().setName(borrowed).build())).hasSize(2));
        // Two attempts are preempted. (A heartbeat the agent built before the kill reached it still lists the attempt as
        // running; the broker answers that with another kill of the same attempt, so kills are counted per attempt.)
        List<ConnectResponse> preempted = received(ConnectResponse::hasKill, borrowed).stream()
                .filter(k -> k.getKill().getReason().startsWith("preempted: tenant " + lender + " reclaims the quota it lent")).toList();
        assertThat(preempted.stream().map(k -> k.getKill().getTaskIndex() + "#" + k.getKill().getAttempt()).distinct()).hasSize(2);

        // The preempted tasks are queued again, with no retry used, and wait for quota, saying which.
        List<Task> tasks = jobs.listTasks(ListTasksRequest.newBuilder().setParent(borrowed).setPageSize(10).build()).getTasksList();
        assertThat(tasks).filteredOn(t -> t.getState() == TaskState.TASK_STATE_QUEUED).hasSize(2).allSatisfy(t -> {
            assertThat(t.getReason()).isEqualTo(dev.spillway.api.v1.Reason.REASON_PREEMPTED);
            assertThat(t.getMessage()).contains("reclaims the quota it lent");
            assertThat(t.getFailures()).isZero();
        });
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(borrowed).build())
                .getPendingReason()).contains("tenant " + borrower + ": cpu in flavor onprem").contains("[policy/quota]"));
        // Nothing more is preempted: each tenant now holds its nominal quota.
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> received(ConnectResponse::hasKill, borrowed).stream()
                .map(k -> k.getKill().getTaskIndex() + "#" + k.getKill().getAttempt()).distinct().count() == 2
                && received(ConnectResponse::hasAssign, borrowed).size() == 4);
    }
}
