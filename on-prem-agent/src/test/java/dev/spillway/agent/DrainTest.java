package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Draining real attempts (OS processes). */
class DrainTest {

    private static final String JOB = AttemptTest.JOB;

    @TempDir
    Path root;

    private final Map<String, Attempt> attempts = new ConcurrentHashMap<>();
    /** What happened, in order: "no new work", each attempt's end ("<job>/0#1 EXITED"), "stopped". */
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final Drain drain = new Drain(attempts.values(), () -> events.add("no new work"), () -> events.add("stopped"));

    @AfterEach
    void stopAttempts() {
        attempts.values().forEach(a -> a.stop(AttemptState.ATTEMPT_STATE_KILLED, "test over", 1000));
    }

    @Test
    void finishingLetsAttemptsEndWithinTheTimeoutAndHandsBackTheRest() {
        start(0, "sleep 0.3");
        start(1, "sleep 60");
        long began = System.nanoTime();

        drain.run(Drain.Mode.FINISH, Duration.ofSeconds(2), "test");

        Duration took = Duration.ofNanos(System.nanoTime() - began);
        assertThat(events).containsExactly("no new work", JOB + "/0#1 EXITED", JOB + "/1#1 HANDED_BACK", "stopped");
        assertThat(took).isBetween(Duration.ofSeconds(2), Duration.ofSeconds(10));
    }

    @Test
    void finishingStopsAsSoonAsNothingRuns() {
        start(0, "sleep 0.3");
        long began = System.nanoTime();

        drain.run(Drain.Mode.FINISH, Duration.ofSeconds(60), "test");

        assertThat(events).containsExactly("no new work", JOB + "/0#1 EXITED", "stopped");
        assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void handingBackStopsRunningAttemptsAtOnce() {
        start(0, "sleep 60");
        long began = System.nanoTime();

        drain.run(Drain.Mode.HAND_BACK, Duration.ofSeconds(60), "test");

        assertThat(events).containsExactly("no new work", JOB + "/0#1 HANDED_BACK", "stopped");
        assertThat(attempts.get(JOB + "/0#1").status().getMessage()).isEqualTo("node drained; task handed back");
        assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(10));
    }

    /** A spot notice starts a drain; the SIGTERM that follows must wait for it, not drain again or return early. */
    @Test
    void aSecondDrainWaitsForTheFirstAndDrainsNothing() throws Exception {
        start(0, "sleep 60");
        Thread first = new Thread(() -> drain.run(Drain.Mode.FINISH, Duration.ofSeconds(2), "spot notice"));
        first.start();
        while (events.isEmpty()) Thread.onSpinWait();

        drain.run(Drain.Mode.HAND_BACK, Duration.ZERO, "asked to stop");

        assertThat(events).containsExactly("no new work", JOB + "/0#1 HANDED_BACK", "stopped");
        first.join(10_000);
        assertThat(events).hasSize(3);
    }

    private void start(int task, String script) {
        Assign assign = Assign.newBuilder().setJobId(JOB).setTaskIndex(task).setAttempt(1)
                .addCommand("/bin/sh").addCommand("-c").addCommand(script).build();
        Attempt a = new Attempt(AttemptId.verify(assign), assign, root, TaskUser.agentsOwn(), x -> {
            if (x.finished()) events.add(x.key() + " " + x.status().getState().name().replace("ATTEMPT_STATE_", ""));
        });
        attempts.put(a.key(), a);
        a.start();
    }
}
