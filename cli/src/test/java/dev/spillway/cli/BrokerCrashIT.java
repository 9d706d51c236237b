package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskState;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * SIGKILL to the broker and its embedded PostgreSQL the moment a SubmitJob has been answered, with
 * more submissions in flight: every job the broker acknowledged is there after a restart and runs to
 * the end. Killing the database's processes too (not only the broker's JVM) is what a container or
 * machine dying does; it also loses whatever commit PostgreSQL acknowledged before writing its WAL
 * out of shared memory, which {@code synchronous_commit=off} would allow.
 */
class BrokerCrashIT {

    private static final int ACKNOWLEDGED_BEFORE_KILL = 12;
    private static final int SUBMITTERS = 6;

    @Test
    void everyAcknowledgedJobSurvivesAKill9OfTheBrokerAndItsDatabase() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("crash", 2, "10s")) {
            EmbeddedDatabase db = new EmbeddedDatabase(fx.cluster.dataDir());
            assertThat(db.show("synchronous_commit")).isEqualTo("on");
            assertThat(db.show("fsync")).isEqualTo("on");
            JobSpec spec = ClusterFixture.shellJob(2, 500, "sleep 0.2; echo \"done $SPILLWAY_TASK_INDEX\"");

            Map<String, String> acknowledged = new ConcurrentHashMap<>(); // request id -> job id
            List<String> asked = new CopyOnWriteArrayList<>();
            List<Throwable> failedBeforeKill = new CopyOnWriteArrayList<>();
            AtomicBoolean killed = new AtomicBoolean();
            ExecutorService submitters = Executors.newFixedThreadPool(SUBMITTERS);
            try {
                for (int i = 0; i < SUBMITTERS; i++) {
                    submitters.execute(() -> {
                        while (!killed.get()) {
                            String requestId = UUID.randomUUID().toString();
                            asked.add(requestId);
                            try {
                                String id = fx.jobs.withDeadlineAfter(30, TimeUnit.SECONDS)
                                        .submitJob(SubmitJobRequest.newBuilder().setSpec(spec).setRequestId(requestId).build()).getUid();
                                acknowledged.put(requestId, id);
                                if (acknowledged.size() >= ACKNOWLEDGED_BEFORE_KILL && killed.compareAndSet(false, true)) {
                                    // Right after this answer, others still in flight: the broker, then its database.
                                    fx.cluster.broker().destroyForcibly();
                                    db.kill();
                                }
                            } catch (StatusRuntimeException e) {
                                if (!killed.get()) failedBeforeKill.add(e);
                                return;
                            } catch (RuntimeException e) {
                                failedBeforeKill.add(e); // could not kill
                                return;
                            }
                        }
                    });
                }
                submitters.shutdown();
                assertThat(submitters.awaitTermination(120, TimeUnit.SECONDS)).as("submitters done").isTrue();
            } finally {
                submitters.shutdownNow();
            }
            assertThat(failedBeforeKill).isEmpty();
            assertThat(killed).isTrue();
            fx.cluster.killBroker(); // reaps the killed process
            assertThat(acknowledged).hasSizeGreaterThanOrEqualTo(ACKNOWLEDGED_BEFORE_KILL);

            fx.cluster.startBroker();

            assertThat(db.show("synchronous_commit")).isEqualTo("on");
            assertThat(db.show("fsync")).isEqualTo("on");
            // The client's channel may still be backing off from the dead broker: wait for it to be ready.
            var client = fx.jobs.withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS);
            acknowledged.forEach((requestId, id) -> assertThat(client.getJob(GetJobRequest.newBuilder().setName(id).build()).getUid())
                    .as("job %s acknowledged before the kill", id).isEqualTo(id));
            // A retried submission returns the job its first call made (acknowledged or not), never a second one.
            Set<String> jobs = new HashSet<>();
            for (String requestId : asked) {
                String id = client.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).setRequestId(requestId).build()).getUid();
                if (acknowledged.containsKey(requestId)) assertThat(id).as("retry of request %s", requestId).isEqualTo(acknowledged.get(requestId));
                assertThat(jobs.add(id)).as("job %s returned for one request only", id).isTrue();
            }

            List<JobAndTasks> finished = new ArrayList<>();
            for (String id : jobs) finished.add(fx.awaitFinished(id, Duration.ofSeconds(120)));
            assertThat(finished).allSatisfy(job -> {
                assertThat(ClusterFixture.finishedOk(job)).as("job %s succeeded", job.getJob().getUid()).isTrue();
                assertThat(job.getTasksList()).hasSize(2).allSatisfy(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED));
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> fx.readyNodes() == 2);
        }
    }

    /**
     * The same kill with the database stalled (SIGSTOP) under submissions: no job can reach the disk,
     * so SubmitJob must not answer. Whatever did answer is there after the restart and runs. (No
     * request ids here: with one, the broker reads the database before anything else and the stall
     * would hold the call for that reason alone.)
     */
    @Test
    void noSubmissionIsAcknowledgedWhileTheDatabaseCannotCommitIt() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("crash-stalled", 2, "10s")) {
            EmbeddedDatabase db = new EmbeddedDatabase(fx.cluster.dataDir());
            JobSpec spec = ClusterFixture.shellJob(2, 500, "echo \"done $SPILLWAY_TASK_INDEX\"");
            String warm = fx.submit(spec); // the submission path is warm

            List<String> acknowledged = new CopyOnWriteArrayList<>();
            List<ProcessHandle> frozen = db.freeze();
            ExecutorService submitters = Executors.newFixedThreadPool(SUBMITTERS);
            try {
                for (int i = 0; i < SUBMITTERS; i++) {
                    submitters.execute(() -> {
                        try {
                            acknowledged.add(fx.jobs.withDeadlineAfter(60, TimeUnit.SECONDS)
                                    .submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid());
                        } catch (StatusRuntimeException e) {
                            // the broker was killed under the call: not acknowledged
                        }
                    });
                }
                await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5))
                        .untilAsserted(() -> assertThat(acknowledged).as("jobs acknowledged while the database was stopped").isEmpty());
            } finally {
                // Both die with the database still stopped (SIGKILL ends stopped processes); the thaw is for a failure before.
                fx.cluster.broker().destroyForcibly();
                frozen.forEach(ProcessHandle::destroyForcibly);
                EmbeddedDatabase.thaw(frozen);
                submitters.shutdown();
                assertThat(submitters.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
            }
            fx.cluster.killBroker(); // reaps it
            for (ProcessHandle p : frozen) p.onExit().orTimeout(30, TimeUnit.SECONDS).join();

            fx.cluster.startBroker();
            // The client's channel may still be backing off from the dead broker: wait for it to be ready.
            fx.jobs.withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS).getJob(GetJobRequest.newBuilder().setName(warm).build());

            List<String> jobs = new ArrayList<>(acknowledged);
            jobs.add(warm);
            for (String id : jobs) {
                JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(120));
                assertThat(ClusterFixture.finishedOk(job)).as("job %s succeeded", id).isTrue();
            }
        }
    }
}
