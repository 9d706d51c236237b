package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.ListNodesRequest;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.NodeState;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * SIGTERM to an agent: it takes no new work, lets running tasks finish within its drain timeout
 * (2 s here) and hands back the rest, which the broker re-queues without using a retry.
 */
class DrainIT {

    @Test
    void aDrainingAgentFinishesShortTasksAndHandsBackLongOnes() throws Exception {
        try (ClusterFixture fx = new ClusterFixture("drain", 2, "20s", o -> o.drainTimeout = "2s")) {
            // Each task takes a whole node (2 cpu). Attempt 1 of task 1 would run for a minute; a retry is quick.
            String id = fx.submit(ClusterFixture.shellJob(2, 2000,
                    "if [ \"$SPILLWAY_TASK_INDEX\" = 1 ] && [ \"$SPILLWAY_ATTEMPT\" = 1 ]; then sleep 60; else sleep 1; fi"));
            await().atMost(Duration.ofSeconds(60)).until(() -> fx.job(id).getTasksList().stream()
                    .allMatch(t -> t.getState() == TaskState.TASK_STATE_RUNNING));
            String longNode = fx.job(id).getTasks(1).getNode();
            String otherNode = longNode.equals("agent-1") ? "agent-2" : "agent-1";

            fx.cluster.stopAgent(longNode);

            assertThat(fx.cluster.agents().get(longNode).exitValue()).isZero();
            JobAndTasks job = fx.awaitFinished(id, Duration.ofSeconds(60));
            assertThat(ClusterFixture.finishedOk(job)).isTrue();
            Task handedBack = job.getTasks(1);
            assertThat(handedBack.getAttempt()).isEqualTo(2);
            assertThat(handedBack.getNode()).isEqualTo(otherNode);
            assertThat(handedBack.getFailures()).as("a hand-back is not a failure").isZero();
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(NodeServiceGrpc.newBlockingStub(fx.channel)
                    .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList())
                    .filteredOn(n -> n.getName().equals("nodes/" + longNode)).singleElement()
                    .satisfies(n -> assertThat(n.getState()).isEqualTo(NodeState.NODE_STATE_DISCONNECTED)));
        }
    }
}
