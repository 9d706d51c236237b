package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Timestamp;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Attempt directories go {@code --keep-attempts} after their acknowledged end; unacknowledged ends and running attempts stay. */
class AttemptRetentionTest {

    private static final Duration KEEP = Duration.ofHours(24);

    @TempDir
    Path tmp;

    @Test
    void onlyAcknowledgedEndsOlderThanTheRetentionAndAbandonedDirectoriesGo() throws Exception {
        Path root = tmp.resolve("attempts");
        Instant now = Instant.now();
        Path oldRecorded = attemptDir(root, now.minus(Duration.ofHours(25)), true);
        Path newRecorded = attemptDir(root, now.minus(Duration.ofHours(23)), true);
        Path oldUnrecorded = attemptDir(root, now.minus(Duration.ofDays(30)), false);
        Path abandoned = attemptDir(root, null, false); // no end: an earlier run was running it
        setModified(abandoned, now.minus(Duration.ofDays(2)));
        Path running = attemptDir(root, null, false);
        setModified(running, now.minus(Duration.ofDays(2))); // a quiet task: it runs, so it stays
        String runningKey = key(root, running);

        int deleted = AttemptRetention.deleteExpired(root, Set.of(runningKey), now, KEEP);

        assertThat(deleted).isEqualTo(2);
        assertThat(oldRecorded).doesNotExist();
        assertThat(oldRecorded.getParent().getParent()).as("the job's directory, left empty").doesNotExist();
        assertThat(abandoned).doesNotExist();
        assertThat(newRecorded).exists();
        assertThat(oldUnrecorded.resolve(AttemptEndFile.UNRECORDED)).exists();
        assertThat(running).exists();
    }

    @Test
    void aLinkInATasksDirectoryIsDeletedNotFollowed() throws Exception {
        Path root = tmp.resolve("attempts");
        Path precious = Files.writeString(Files.createDirectories(tmp.resolve("elsewhere")).resolve("keep-me"), "data");
        Path old = attemptDir(root, Instant.now().minus(Duration.ofDays(3)), true);
        Files.createSymbolicLink(old.resolve("work").resolve("link"), precious.getParent());

        AttemptRetention.deleteExpired(root, Set.of(), Instant.now(), KEEP);

        assertThat(old).doesNotExist();
        assertThat(precious).hasContent("data");
    }

    /** The agent deletes what an earlier run left, at start: here with a retention of one second. */
    @Test
    void theAgentDeletesOldAttemptsFromAnEarlierRunAtStart() throws Exception {
        Path work = tmp.resolve("agent");
        Path old = attemptDir(work.resolve("attempts"), Instant.now().minus(Duration.ofMinutes(5)), true);
        Path unrecorded = attemptDir(work.resolve("attempts"), Instant.now().minus(Duration.ofMinutes(5)), false);
        try (LoopbackBroker broker = new LoopbackBroker()) {
            broker.acknowledgeEnds(false);
            Agent agent = new Agent(new Agent.Settings(broker.address(), "t", "retention", "onprem", 1000, 256, 0, Map.of(), work,
                    Drain.Mode.HAND_BACK, Duration.ZERO, "test", AttemptCgroups.NONE, Duration.ofSeconds(1), 1024 * 1024),
                    TaskUser.agentsOwn(), BrokerTrust.of(null, true));
            Thread t = new Thread(agent::run, "agent-under-test");
            t.setDaemon(true);
            t.start();
            try {
                await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(old));
                assertThat(unrecorded.resolve(AttemptEndFile.UNRECORDED)).exists(); // still re-sent, so still kept
            } finally {
                agent.drainAndStop(Drain.Mode.HAND_BACK, Duration.ZERO, "test over");
            }
        }
    }

    private static Path attemptDir(Path root, Instant ended, boolean recorded) throws Exception {
        String job = UUID.randomUUID().toString();
        Path dir = Files.createDirectories(root.resolve(job).resolve("0").resolve("1"));
        Files.createDirectories(dir.resolve("work"));
        Files.writeString(dir.resolve("stdout.log"), "output\n");
        if (ended != null) {
            AttemptEndFile.write(dir, AttemptStatus.newBuilder().setJobId(job).setTaskIndex(0).setAttempt(1)
                    .setState(AttemptState.ATTEMPT_STATE_EXITED)
                    .setEndTime(Timestamp.newBuilder().setSeconds(ended.getEpochSecond())).build());
            if (recorded) AttemptEndFile.markRecorded(dir);
        }
        return dir;
    }

    private static void setModified(Path dir, Instant at) throws Exception {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) Files.setLastModifiedTime(f, FileTime.from(at));
        }
        Files.setLastModifiedTime(dir, FileTime.from(at));
    }

    private static String key(Path root, Path dir) {
        Path rel = root.relativize(dir);
        return Attempt.key(rel.getName(0).toString(), Integer.parseInt(rel.getName(1).toString()), Integer.parseInt(rel.getName(2).toString()));
    }
}
