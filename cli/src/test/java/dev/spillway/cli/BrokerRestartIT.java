package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.JsonFormat;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobResponse;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The broker stopped and started again on the same data directory, mid-job: nothing is lost, and a watch carries on. */
class BrokerRestartIT {

    @Test
    void aJobSurvivesABrokerRestart() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("restart", 2, "20s")) {
            String id = fx.submit(ClusterFixture.shellJob(16, 1000, "sleep 1; echo \"done $SPILLWAY_TASK_INDEX\""));
            // `spillway watch` follows the job across the restart, resuming after the last event it printed.
            StringWriter watchOut = new StringWriter();
            StringWriter watchErr = new StringWriter();
            CompletableFuture<Integer> watch = CompletableFuture.supplyAsync(() -> {
                CommandLine cmd = Spillway.commandLine();
                cmd.setOut(new PrintWriter(watchOut));
                cmd.setErr(new PrintWriter(watchErr));
                return cmd.execute("--broker", fx.cluster.brokerAddress(), "--ca-file", BrokerTls.caFileIn(fx.cluster.dataDir()).toString(),
                        "--token-file", fx.cluster.dataDir().resolve("admin-key").toString(), "watch", id, "-o", "json");
            });
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getJob().getTaskCountsOrDefault("TASK_STATE_SUCCEEDED", 0) >= 4);

            fx.cluster.stopBroker();
            fx.cluster.startBroker();

            JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(120));
            assertThat(watch.get(60, TimeUnit.SECONDS)).as(watchErr.toString()).isEqualTo(Spillway.OK);
            assertThat(watchErr.toString()).contains("WatchJob failed (UNAVAILABLE");
            List<WatchJobResponse> events = new ArrayList<>();
            for (String line : watchOut.toString().lines().toList()) {
                WatchJobResponse.Builder e = WatchJobResponse.newBuilder();
                JsonFormat.parser().merge(line, e);
                events.add(e.build());
            }
            assertThat(events.stream().map(WatchJobResponse::getSequence).toList()).as("no event twice, in order").doesNotHaveDuplicates().isSorted();
            assertThat(events.stream().filter(e -> e.getState() == TaskState.TASK_STATE_SUCCEEDED).map(WatchJobResponse::getTaskIndex).sorted().toList())
                    .as("every task's end once, none lost").isEqualTo(java.util.stream.IntStream.range(0, 16).boxed().toList());
            assertThat(ClusterFixture.finishedOk(job)).isTrue();
            assertThat(job.getTasksList()).hasSize(16).allSatisfy(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_STATE_SUCCEEDED));
            for (int i = 0; i < 16; i++) {
                StringBuilder out = new StringBuilder();
                fx.jobs.getTaskLogs(GetTaskLogsRequest.newBuilder().setName(dev.spillway.api.ResourceNames.task(id, i)).build())
                        .forEachRemaining(c -> out.append(c.getData().toStringUtf8()));
                assertThat(out.toString()).isEqualTo("done " + i + "\n");
            }
        }
    }
}
