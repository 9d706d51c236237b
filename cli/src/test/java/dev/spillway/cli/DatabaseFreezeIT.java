package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.GetJobResponse;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The embedded PostgreSQL stalls for 10 s (SIGSTOP to all its processes, then SIGCONT) while the
 * broker and the agents run a job: attempts end during the stall and the broker cannot write them.
 * The broker owns the embedded server (it starts it and stops it at exit; nothing restarts it under
 * a running broker), so a stall, not a restart, is what it must ride out. Nothing is lost and
 * nothing runs twice: every task succeeds once, at attempt 1, since no node was lost.
 */
class DatabaseFreezeIT {

    private static final int TASKS = 48;
    private static final Duration FREEZE = Duration.ofSeconds(10);

    @Test
    void aTenSecondDatabaseStallLosesNoAttemptEndAndRunsNothingTwice() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("freeze", 2, "4s")) {
            EmbeddedDatabase db = new EmbeddedDatabase(fx.cluster.dataDir());
            // A quarter cpu each: 16 at once over the two agents, lasting 2 to 10 s, so ends keep coming during the stall.
            String id = fx.submit(ClusterFixture.shellJob(TASKS, 250,
                    "sleep $((2 + SPILLWAY_TASK_INDEX % 9)); echo \"done $SPILLWAY_TASK_INDEX\""));
            List<WatchJobResponse> events = fx.watch(id);
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getTasksList().stream()
                    .filter(t -> t.getState() == TaskState.TASK_STATE_RUNNING).count() >= 12);

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

            GetJobResponse job = fx.awaitFinished(id, Duration.ofSeconds(180));
            assertThat(job.getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(job.getTasksList()).hasSize(TASKS).allSatisfy(t -> {
                assertThat(t.getState()).as("task %d", t.getIndex()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED);
                assertThat(t.getAttempt()).as("task %d's attempt (no node was lost)", t.getIndex()).isEqualTo(1);
                assertThat(t.getFailures()).as("task %d's failures", t.getIndex()).isZero();
                assertThat(t.getExitCode()).isZero();
            });

            await().atMost(Duration.ofSeconds(30)).until(() -> events.stream().anyMatch(e -> e.getJobState() == JobState.JOB_STATE_SUCCEEDED));
            Map<Integer, Long> succeeded = events.stream().filter(e -> e.getState() == TaskState.TASK_STATE_SUCCEEDED)
                    .collect(Collectors.groupingBy(WatchJobResponse::getTaskIndex, Collectors.counting()));
            assertThat(succeeded).as("SUCCEEDED events per task").hasSize(TASKS).allSatisfy((index, n) -> assertThat(n).isEqualTo(1));
            assertThat(events).as("no attempt lost, failed or retried")
                    .noneMatch(e -> e.getState() == TaskState.TASK_STATE_LOST || e.getState() == TaskState.TASK_STATE_FAILED || e.getAttempt() > 1);
            assertThat(fx.readyNodes()).isEqualTo(2);
            for (Task t : job.getTasksList()) {
                StringBuilder out = new StringBuilder();
                fx.jobs.getTaskLogs(dev.spillway.api.v1.GetTaskLogsRequest.newBuilder().setJobId(id).setTaskIndex(t.getIndex()).build())
                        .forEachRemaining(c -> out.append(c.getData().toStringUtf8()));
                assertThat(out.toString()).as("task %d's output", t.getIndex()).isEqualTo("done " + t.getIndex() + "\n");
            }
        }
    }
}
