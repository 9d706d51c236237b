package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attempt ends are kept and re-sent until the broker acknowledges them ({@code AttemptEndsRecorded}):
 * in every report, at every registration, and after the agent restarts. Real agents (in this JVM),
 * real task processes, a {@link LoopbackBroker} that can withhold its acknowledgements.
 */
class AttemptEndsTest {

    @TempDir
    Path tmp;

    private LoopbackBroker broker;
    private final List<Agent> agents = new ArrayList<>();

    @BeforeEach
    void startBroker() throws Exception {
        broker = new LoopbackBroker();
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = agents.size() - 1; i >= 0; i--) stopAgent(agents.get(i));
        broker.close();
    }

    @Test
    void anEndIsReSentInEveryReportUntilAcknowledgedAndThenNoMore() {
        broker.acknowledgeEnds(false);
        Agent agent = startAgent();
        String job = submit("exit 3");

        await().atMost(Duration.ofSeconds(20)).until(() -> ends(job) >= 3);
        assertThat(endFile(job, false)).exists();

        broker.acknowledgeEnds(true);
        await().atMost(Duration.ofSeconds(10)).until(() -> broker.acknowledged().stream().anyMatch(a -> a.getJobId().equals(job)));
        await().atMost(Duration.ofSeconds(5)).until(() -> Files.exists(endFile(job, true)));
        assertThat(endFile(job, false)).doesNotExist();
        long sent = ends(job);
        // Beats go every 500 ms: four seconds without the end means it is no longer in them.
        await().during(Duration.ofSeconds(4)).atMost(Duration.ofSeconds(6)).until(() -> ends(job) <= sent + 1);
        assertThat(agent).isNotNull();
    }

    @Test
    void anUnacknowledgedEndIsReSentAtTheNextRegistration() {
        broker.acknowledgeEnds(false);
        startAgent();
        String job = submit("exit 3");
        await().atMost(Duration.ofSeconds(20)).until(() -> ends(job) >= 1);
        int registrations = broker.registrations().size();

        broker.dropAgent();

        await().atMost(Duration.ofSeconds(20)).until(() -> broker.registrations().size() > registrations);
        assertThat(endIn(broker.registrations().get(broker.registrations().size() - 1), job))
                .satisfies(e -> assertThat(e.getExitCode()).isEqualTo(3));
    }

    @Test
    void anUnacknowledgedEndIsReSentAfterTheAgentRestarts() {
        broker.acknowledgeEnds(false);
        Agent first = startAgent();
        String job = submit("echo done; exit 3");
        await().atMost(Duration.ofSeconds(20)).until(() -> ends(job) >= 1);
        stopAgent(first);
        assertThat(endFile(job, false)).exists();

        int registrations = broker.registrations().size();
        startAgent();

        await().atMost(Duration.ofSeconds(20)).until(() -> broker.registrations().size() > registrations);
        AttemptStatus end = endIn(broker.registrations().get(registrations), job);
        assertThat(end.getState()).isEqualTo(AttemptState.ATTEMPT_STATE_EXITED);
        assertThat(end.getExitCode()).isEqualTo(3);
        assertThat(end.hasEndTime()).isTrue();
        long sent = ends(job);
        await().atMost(Duration.ofSeconds(10)).until(() -> ends(job) > sent); // and in the reports that follow

        broker.acknowledgeEnds(true);
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(endFile(job, true)));
        assertThat(endFile(job, false)).doesNotExist();
    }

    @Test
    void anAcknowledgedEndIsNotReSentAfterTheAgentRestarts() {
        Agent first = startAgent();
        String job = submit("exit 0");
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(endFile(job, true)));
        stopAgent(first);
        long sent = ends(job);

        int registrations = broker.registrations().size();
        startAgent();

        await().atMost(Duration.ofSeconds(20)).until(() -> broker.registrations().size() > registrations);
        assertThat(broker.registrations().get(registrations).getAttemptsList()).noneMatch(a -> a.getJobId().equals(job));
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4)).until(() -> ends(job) == sent);
    }

    // ---

    private Agent startAgent() {
        Agent.Settings settings = new Agent.Settings(broker.address(), "agent-token", "ends-" + agents.size(), "onprem", 1000, 256,
                0, Map.of(), tmp.resolve("agent"), Drain.Mode.HAND_BACK, Duration.ZERO, "test", "auto",
                Duration.ofHours(24), Attempt.DEFAULT_MAX_LOG_BYTES);
        Agent agent = new Agent(settings, TaskUser.agentsOwn(), BrokerTrust.of(null, true));
        agents.add(agent);
        int registrations = broker.registrations().size();
        Thread t = new Thread(agent::run, "agent-under-test");
        t.setDaemon(true);
        t.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> broker.registrations().size() > registrations && broker.agentConnected());
        return agent;
    }

    private void stopAgent(Agent agent) {
        agent.drainAndStop(Drain.Mode.HAND_BACK, Duration.ZERO, "test over");
        await().atMost(Duration.ofSeconds(10)).until(() -> !broker.agentConnected());
    }

    private String submit(String script) {
        String job = UUID.randomUUID().toString();
        broker.send(ConnectResponse.newBuilder().setAssign(Assign.newBuilder().setJobId(job).setTaskIndex(0).setAttempt(1)
                .addCommand("/bin/sh").addCommand("-c").addCommand(script)).build());
        return job;
    }

    /** How many times the agent reported the end of {@code job}'s attempt. */
    private long ends(String job) {
        return broker.reports().stream().filter(r -> r.getJobId().equals(job) && r.getState() == AttemptState.ATTEMPT_STATE_EXITED).count();
    }

    private static AttemptStatus endIn(Register register, String job) {
        return register.getAttemptsList().stream().filter(a -> a.getJobId().equals(job)).findFirst()
                .orElseThrow(() -> new AssertionError("no end of " + job + " in " + register.getAttemptsList()));
    }

    private Path endFile(String job, boolean recorded) {
        return tmp.resolve("agent/attempts").resolve(job).resolve("0/1")
                .resolve(recorded ? AttemptEndFile.RECORDED : AttemptEndFile.UNRECORDED);
    }
}
