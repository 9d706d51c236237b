package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Secret environment values: stored only sealed, never returned by any read (gRPC or REST),
 * never in the broker's log, and given to the agent that runs the attempt.
 */
@QuarkusTest
class SecretEnvTest {

    @TestHTTPResource
    URL url;

    @Inject
    ApiKeys keys;

    @Inject
    Pool pool;

    @Test
    void aSecretReachesOnlyTheAgentThatRunsTheTask() throws Exception {
        String secret = "s3cret-" + UUID.randomUUID();
        String key = TestCallers.key(keys, "vault", Role.SUBMITTER);
        ManagedChannel channel = TestCallers.channel(url, key);
        try (FakeAgent agent = new FakeAgent(url.getHost(), url.getPort(), "secret-node", "test-agent-token")) {
            // Room for what other tests leave queued (any job without a pool may land here too), yet less than the
            // 64 cpu JobApiTest expects no node to offer.
            agent.sendRegister("secret-pool", 32_000, 65_536);
            await().atMost(Duration.ofSeconds(10)).until(() -> agent.registered() != null);
            JobSpec base = JobApiTest.valid();
            JobSpec spec = base.toBuilder().setTaskCount(1).setTask(base.getTask().toBuilder().addPools("secret-pool")
                    .putEnv("PLAIN", "visible").putSecretEnv("DB_PASSWORD", secret)).build();
            var jobs = JobServiceGrpc.newBlockingStub(channel);
            String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid();

            await().atMost(Duration.ofSeconds(20)).until(() -> agent.received.stream()
                    .anyMatch(r -> r.hasAssign() && r.getAssign().getJobId().equals(id)));
            var assign = agent.received.stream().filter(r -> r.hasAssign() && r.getAssign().getJobId().equals(id)).findFirst().orElseThrow()
                    .getAssign();
            assertThat(assign.getEnvMap()).containsEntry("DB_PASSWORD", secret).containsEntry("PLAIN", "visible");

            var read = jobs.getJob(GetJobRequest.newBuilder().setName(id).build()).getSpec().getTask();
            assertThat(read.getSecretEnvMap()).containsOnlyKeys("DB_PASSWORD").containsEntry("DB_PASSWORD", "");
            assertThat(read.getEnvMap()).containsEntry("PLAIN", "visible");
            assertThat(jobs.listJobs(ListJobsRequest.getDefaultInstance()).toString()).doesNotContain(secret);
            assertThat(jobs.watchJob(WatchJobRequest.newBuilder().setName(id).build()).next().toString()).doesNotContain(secret);
            HttpResponse<String> rest = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url.toString()).resolve("/api/v1/jobs/" + id))
                    .header("Authorization", "Bearer " + key).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(rest.statusCode()).isEqualTo(200);
            assertThat(rest.body()).contains("DB_PASSWORD").doesNotContain(secret);

            byte[] stored = pool.preparedQuery("SELECT spec FROM job WHERE id = $1").execute(Tuple.of(UUID.fromString(id)))
                    .await().indefinitely().iterator().next().getBuffer("spec").getBytes();
            assertThat(new String(stored, StandardCharsets.ISO_8859_1)).contains("DB_PASSWORD").doesNotContain(secret).contains("sealed:v1:");
            long auditHits = pool.preparedQuery("SELECT count(*) AS n FROM audit_event WHERE detail LIKE $1").execute(Tuple.of("%" + secret + "%"))
                    .await().indefinitely().iterator().next().getLong("n");
            assertThat(auditHits).isZero();
            assertThat(brokerLog()).doesNotContain(secret);
        } finally {
            channel.shutdownNow();
        }
    }

    /** What the broker under test has logged so far (the test profile logs to this file too). */
    private static String brokerLog() throws Exception {
        String log = Files.readString(Path.of("target", "quarkus-test.log"), StandardCharsets.ISO_8859_1);
        assertThat(log).as("the broker's log is there to search").contains("spillway");
        return log;
    }
}
