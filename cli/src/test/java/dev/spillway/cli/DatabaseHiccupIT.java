package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The embedded PostgreSQL misbehaves under a running broker and its agents while attempts run and
 * end. The broker owns the embedded server (starts it, stops it at exit; nothing restarts it from
 * outside under a running broker), so what it must ride out is the server stalling, and the server
 * crashing and recovering by itself. Nothing is lost and nothing runs twice: every task succeeds once,
 * at attempt 1, since no node was lost.
 */
class DatabaseHiccupIT {

    private static final int TASKS = 48;
    private static final Duration FREEZE = Duration.ofSeconds(10);

    /**
     * Quarter-cpu tasks (16 at once over the two agents) lasting 2 to 10 s, so ends keep coming. Each
     * leaves a file named after its index, attempt and pid in {@code runs} when it completes: what ran,
     * seen from the machine rather than from the broker.
     */
    private static JobSpec job(Path runs) {
        return ClusterFixture.shellJob(TASKS, 250, "sleep $((2 + SPILLWAY_TASK_INDEX % 9)); touch " + runs
                + "/$SPILLWAY_TASK_INDEX-$SPILLWAY_ATTEMPT-$$; echo \"done $SPILLWAY_TASK_INDEX\"");
    }

    /** A directory the tasks (they run as nobody) can write in. */
    private static Path runsDirectory() throws IOException {
        Path runs = Files.createTempDirectory("spillway-runs-");
        Files.setPosixFilePermissions(runs, PosixFilePermissions.fromString("rwxrwxrwx"));
        return runs;
    }

    /** The completed runs per task, as "attempt-pid" names. */
    private static Map<Integer, List<String>> completedRuns(Path runs) throws IOException {
        try (Stream<Path> files = Files.list(runs)) {
            return files.map(f -> f.getFileName().toString()).collect(Collectors.groupingBy(
                    n -> Integer.parseInt(n.substring(0, n.indexOf('-'))), Collectors.mapping(n -> n.substring(n.indexOf('-') + 1), Collectors.toList())));
        }
    }

    private static void delete(Path runs) throws IOException {
        try (Stream<Path> files = Files.list(runs)) {
            for (Path f : files.toList()) Files.delete(f);
        }
        Files.delete(runs);
    }

    /** SIGSTOP to every process of the server for 10 s, then SIGCONT: it neither answers nor closes anything meanwhile. */
    @Test
    void aTenSecondDatabaseStallLosesNoAttemptEndAndRunsNothingTwice() throws Exception {
        Path runs = runsDirectory();
        try (ClusterFixture fx = new ClusterFixture("freeze", 2, "4s")) {
            EmbeddedDatabase db = new EmbeddedDatabase(fx.cluster.dataDir());
            String id = fx.submit(job(runs));
            List<WatchJobResponse> events = fx.watch(id);
            awaitRunning(fx, id);

            List<ProcessHandle> frozen = db.freeze();
            long frozenAt = System.nanoTime();
            try {
                assertThat(frozen).hasSizeGreaterThan(1).allMatch(EmbeddedDatabase::stopped);
                // The stall lasts FREEZE; meanwhile the agents stay connected (their processes are alive and report).
                await().pollDelay(FREEZE).atMost(FREEZE.plusSeconds(5))
                        .until(() -> fx.cluster.agents().values().stream().allMatch(Process::isAlive));
            } finally {
                EmbeddedDatabase.thaw(frozen);
            }
            assertThat(Duration.ofNanos(System.nanoTime() - frozenAt)).isGreaterThanOrEqualTo(FREEZE);

            assertEveryTaskSucceededOnceAtAttemptOne(fx, id, runs);
            // The broker's own account agrees, event by event.
            await().atMost(Duration.ofSeconds(30)).until(() -> events.stream().anyMatch(e -> e.getJobState() == JobState.JOB_STATE_SUCCEEDED));
            Map<Integer, Long> succeeded = events.stream().filter(e -> e.getState() == TaskState.TASK_STATE_SUCCEEDED)
                    .collect(Collectors.groupingBy(WatchJobResponse::getTaskIndex, Collectors.counting()));
            assertThat(succeeded).as("SUCCEEDED events per task").hasSize(TASKS).allSatisfy((index, n) -> assertThat(n).isEqualTo(1));
            assertThat(events).as("no attempt lost, failed or retried")
                    .noneMatch(e -> e.getState() == TaskState.TASK_STATE_LOST || e.getState() == TaskState.TASK_STATE_FAILED || e.getAttempt() > 1);
        } finally {
            delete(runs);
        }
    }

    /**
     * The server stalls while attempts end (their ends reach the broker and wait on the database), then
     * one of its backends is SIGKILLed: PostgreSQL ends every connection, rolling back whatever the
     * broker was writing, and recovers. The broker cannot record those ends: it ends the agents'
     * streams rather than acknowledge them, and the agents re-send.
     */
    @Test
    void aDatabaseCrashWhileEndsAreInFlightLosesNoAttemptEnd() throws Exception {
        Path runs = runsDirectory();
        try (ClusterFixture fx = new ClusterFixture("dbcrash", 2, "4s")) {
            EmbeddedDatabase db = new EmbeddedDatabase(fx.cluster.dataDir());
            String id = fx.submit(job(runs));
            awaitRunning(fx, id);
            List<Integer> running = fx.job(id).getTasksList().stream()
                    .filter(t -> t.getState() == TaskState.TASK_STATE_RUNNING).map(Task::getIndex).toList();

            List<ProcessHandle> frozen = db.freeze();
            try {
                // Ends the agents wrote (and sent) while the database could not take them.
                await().atMost(Duration.ofSeconds(20)).until(() -> running.stream().filter(i -> unacknowledgedEnd(fx, id, i)).count() >= 3);
                db.killOneClientBackend();
            } finally {
                EmbeddedDatabase.thaw(frozen);
            }
            // While PostgreSQL recovers it refuses connections (57P03), and the broker answers clients' calls with an
            // error; the agents' side is what is under test here, so this client waits until the server takes
            // connections again before it asks the broker anything.
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> db.show("transaction_read_only").equals("off"));

            // (No WatchJob here: a watch ends when one of its polls of the database fails, and cannot be resumed.)
            assertEveryTaskSucceededOnceAtAttemptOne(fx, id, runs);
        } finally {
            delete(runs);
        }
    }

    private static void awaitRunning(ClusterFixture fx, String id) {
        await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getTasksList().stream()
                .filter(t -> t.getState() == TaskState.TASK_STATE_RUNNING).count() >= 12);
    }

    /** Whether an agent holds attempt 1 of the task's end, not yet acknowledged by the broker. */
    private static boolean unacknowledgedEnd(ClusterFixture fx, String id, int index) {
        return fx.cluster.agents().keySet().stream().map(agent -> fx.cluster.dataDir()
                        .resolve("agents").resolve(agent).resolve("attempts").resolve(id).resolve(index + "/1/end.pb"))
                .anyMatch(Files::exists);
    }

    /**
     * The job succeeded; every task ran to completion exactly once, at attempt 1 (seen on the machine),
     * and the broker says so; every end the agents kept was acknowledged in the end.
     */
    private static void assertEveryTaskSucceededOnceAtAttemptOne(ClusterFixture fx, String id, Path runs) throws IOException {
        JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(180));
        assertThat(job.getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        assertThat(job.getTasksList()).hasSize(TASKS).allSatisfy(t -> {
            assertThat(t.getState()).as("task %d", t.getIndex()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED);
            assertThat(t.getAttempt()).as("task %d's attempt (no node was lost)", t.getIndex()).isEqualTo(1);
            assertThat(t.getFailures()).as("task %d's failures", t.getIndex()).isZero();
            assertThat(t.getExitCode()).isZero();
        });
        Map<Integer, List<String>> completed = completedRuns(runs);
        assertThat(completed).as("tasks that ran to completion").hasSize(TASKS)
                .allSatisfy((index, r) -> assertThat(r).as("task %d's completed runs (attempt-pid)", index).hasSize(1)
                        .allMatch(run -> run.startsWith("1-")));
        assertThat(fx.readyNodes()).isEqualTo(2);
        for (Task t : job.getTasksList()) {
            StringBuilder out = new StringBuilder();
            fx.jobs.getTaskLogs(dev.spillway.api.v1.GetTaskLogsRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(id, t.getIndex())).build())
                    .forEachRemaining(c -> out.append(c.getData().toStringUtf8()));
            assertThat(out.toString()).as("task %d's output", t.getIndex()).isEqualTo("done " + t.getIndex() + "\n");
        }
        // Every end was acknowledged in the end: nothing is left for an agent to re-send.
        await().atMost(Duration.ofSeconds(20)).until(() -> job.getTasksList().stream().noneMatch(t -> unacknowledgedEnd(fx, id, t.getIndex())));
    }
}
