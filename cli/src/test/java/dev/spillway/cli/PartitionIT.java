package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * A network partition between one agent and the broker, longer than the lease: a TCP proxy between
 * them stops moving bytes (closing nothing) while the agent's tasks run. The broker declares the
 * node lost and runs its tasks again on the other agent; the partitioned agent finishes its attempts
 * meanwhile and, once the network heals, reports them: those late ends are refused (and
 * acknowledged, so the agent stops re-sending them). Each task succeeds exactly once, with the
 * re-queued attempt.
 */
class PartitionIT {

    @Test
    void aPartitionedAgentsTasksRunOnceMoreElsewhereAndItsLateResultsAreRefused() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("partition", 1, "3s")) {
            PartitionableProxy proxy = new PartitionableProxy("127.0.0.1", fx.cluster.options().port);
            try {
                partitionAndHeal(fx, proxy);
            } finally {
                fx.cluster.stopAgent("agent-2"); // drains over the proxy, then the proxy goes
                proxy.close();
            }
        }
    }

    private static void partitionAndHeal(ClusterFixture fx, PartitionableProxy proxy) throws Exception {
        // agent-1 talks to the broker directly, agent-2 through the proxy (TLS passes through; the certificate names 127.0.0.1).
        fx.cluster.startAgent("agent-2", fx.cluster.mintJoinToken("agent-2"), proxy.address());
        await().atMost(Duration.ofSeconds(60)).until(() -> fx.readyNodes() == 2);

        // Four 1-cpu tasks fill both 2-cpu agents. First attempts take 3 s, later ones 6 s (long enough to be
        // running still when the partition heals).
        String id = fx.submit(ClusterFixture.shellJob(4, 1000,
                "if [ \"$SPILLWAY_ATTEMPT\" = 1 ]; then sleep 3; else sleep 6; fi; echo \"attempt $SPILLWAY_ATTEMPT\""));
        List<WatchJobResponse> events = fx.watch(id);
        await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getTasksList().stream()
                .filter(t -> t.getState() == TaskState.TASK_STATE_RUNNING && t.getNode().equals("agent-2")).count() == 2);
        List<Integer> partitioned = fx.job(id).getTasksList().stream().filter(t -> t.getNode().equals("agent-2")).map(Task::getIndex).toList();
        double refusedBefore = ClusterFixture.metric(fx.metrics(), "spillway_agent_reports_refused_total");
        Path attempts = fx.cluster.dataDir().resolve("agents/agent-2/attempts").resolve(id);

        proxy.partition();
        try {
            // Past the lease: the broker gives agent-2's tasks to agent-1 as attempt 2 ...
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getTasksList().stream()
                    .filter(t -> partitioned.contains(t.getIndex()))
                    .allMatch(t -> t.getState() == TaskState.TASK_STATE_RUNNING && t.getAttempt() == 2 && t.getNode().equals("agent-1")));
            // ... while agent-2, cut off, finished their first attempts (exit 0) and keeps the unacknowledged ends on disk.
            await().atMost(Duration.ofSeconds(30)).until(() -> partitioned.stream()
                    .allMatch(i -> Files.exists(attempts.resolve(i + "/1/end.pb"))));
            assertThat(ClusterFixture.metric(fx.metrics(), "spillway_agent_reports_refused_total")).isEqualTo(refusedBefore);
        } finally {
            proxy.heal();
        }

        // The late ends reach the broker, which refuses them and says so: the agent marks them recorded.
        await().atMost(Duration.ofSeconds(40)).until(() -> partitioned.stream()
                .allMatch(i -> Files.exists(attempts.resolve(i + "/1/end.recorded.pb"))));
        assertThat(ClusterFixture.metric(fx.metrics(), "spillway_agent_reports_refused_total"))
                .isGreaterThanOrEqualTo(refusedBefore + partitioned.size());
        assertThat(fx.job(id).getJob().hasFinishTime()).as("the late ends arrived while attempt 2 still ran").isFalse();

        JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(60));
        assertThat(job.getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        for (Task t : job.getTasksList()) {
            assertThat(t.getState()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED);
            if (partitioned.contains(t.getIndex())) {
                assertThat(t.getAttempt()).as("task %d's final attempt is the re-queued one", t.getIndex()).isEqualTo(2);
                assertThat(t.getNode()).isEqualTo("agent-1");
                assertThat(t.getFailures()).as("a lost node is not a failure of the task").isZero();
                assertThat(logs(fx, id, t.getIndex())).isEqualTo("attempt 2\n");
            } else {
                assertThat(t.getAttempt()).isEqualTo(1);
            }
        }

        await().atMost(Duration.ofSeconds(30)).until(() -> events.stream().anyMatch(e -> e.getJobState() == JobState.JOB_STATE_SUCCEEDED));
        Map<Integer, List<WatchJobResponse>> succeeded = events.stream().filter(e -> e.getState() == TaskState.TASK_STATE_SUCCEEDED)
                .collect(Collectors.groupingBy(WatchJobResponse::getTaskIndex));
        assertThat(succeeded).as("SUCCEEDED events per task").hasSize(4).allSatisfy((index, e) -> assertThat(e).hasSize(1));
        for (int index : partitioned) {
            assertThat(succeeded.get(index).get(0).getAttempt()).isEqualTo(2);
            assertThat(events).as("task %d's first attempt ends LOST", index)
                    .anyMatch(e -> e.getTaskIndex() == index && e.getAttempt() == 1 && e.getState() == TaskState.TASK_STATE_LOST);
            assertThat(events).as("task %d runs a third time", index).noneMatch(e -> e.getTaskIndex() == index && e.getAttempt() > 2);
        }
        // agent-2 is back and takes work again.
        await().atMost(Duration.ofSeconds(30)).until(() -> fx.readyNodes() == 2);
    }

    private static String logs(ClusterFixture fx, String id, int index) {
        StringBuilder out = new StringBuilder();
        fx.jobs.getTaskLogs(dev.spillway.api.v1.GetTaskLogsRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(id, index)).build())
                .forEachRemaining(c -> out.append(c.getData().toStringUtf8()));
        return out.toString();
    }
}
