package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.GetJobResponse;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.TaskState;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The broker stopped and started again on the same data directory, mid-job: nothing is lost. */
class BrokerRestartIT {

    @Test
    void aJobSurvivesABrokerRestart() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("restart", 2, "20s")) {
            String id = fx.submit(ClusterFixture.shellJob(16, 1000, "sleep 1; echo \"done $SPILLWAY_TASK_INDEX\""));
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getJob().getTaskCountsOrDefault("SUCCEEDED", 0) >= 4);

            fx.cluster.stopBroker();
            fx.cluster.startBroker();

            GetJobResponse job = fx.awaitFinished(id, Duration.ofSeconds(120));
            assertThat(ClusterFixture.finishedOk(job)).isTrue();
            assertThat(job.getTasksList()).hasSize(16).allSatisfy(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED));
            for (int i = 0; i < 16; i++) {
                StringBuilder out = new StringBuilder();
                fx.jobs.getTaskLogs(GetTaskLogsRequest.newBuilder().setJobId(id).setTaskIndex(i).build())
                        .forEachRemaining(c -> out.append(c.getData().toStringUtf8()));
                assertThat(out.toString()).isEqualTo("done " + i + "\n");
            }
        }
    }
}
