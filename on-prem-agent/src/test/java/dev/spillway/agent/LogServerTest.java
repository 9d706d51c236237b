package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.LogChunk;
import dev.spillway.api.agent.v1.LogRequest;
import dev.spillway.api.v1.LogStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The log server over real attempt directories (and a real process when following). */
class LogServerTest {

    @TempDir
    Path root;

    private final Map<String, Attempt> attempts = new ConcurrentHashMap<>();
    private final List<LogChunk> sent = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private final Executor workers = r -> {
        Thread t = new Thread(r, "log-sender");
        threads.add(t);
        t.start();
    };

    private void send(ConnectRequest message) {
        sent.add(message.getLogChunk());
    }

    private LogServer server() {
        return new LogServer(root, "n1", attempts::get, this::send, workers);
    }

    /** Stops every attempt and waits for its end to be written: the temporary directory is deleted after this. */
    @AfterEach
    void stopAttempts() {
        attempts.values().forEach(a -> a.stop(AttemptState.ATTEMPT_STATE_KILLED, "test over", 1000));
        attempts.values().forEach(a -> await().atMost(Duration.ofSeconds(10)).until(a::finished));
    }

    private static LogRequest.Builder request(String id) {
        return LogRequest.newBuilder().setRequestId(id).setJobId(AttemptTest.JOB).setTaskIndex(3).setAttempt(1);
    }

    @Test
    void outputIsSentInChunksOf64KibThenEndOfFile() throws Exception {
        Path dir = Files.createDirectories(root.resolve(AttemptTest.JOB + "/3/1"));
        byte[] output = new byte[150_000];
        for (int i = 0; i < output.length; i++) output[i] = (byte) ('a' + i % 26);
        Files.write(dir.resolve("stderr.log"), output);
        Files.writeString(dir.resolve("stdout.log"), "not this one");

        server().handle(request("r1").setStream(LogStream.LOG_STREAM_STDERR).build());

        await().atMost(Duration.ofSeconds(10)).until(() -> sent.stream().anyMatch(LogChunk::getEof));
        assertThat(sent).extracting(c -> c.getData().size()).containsExactly(65_536, 65_536, 150_000 - 2 * 65_536, 0);
        assertThat(sent).allSatisfy(c -> {
            assertThat(c.getRequestId()).isEqualTo("r1");
            assertThat(c.getError()).isEmpty();
        });
        assertThat(joined()).isEqualTo(output);
    }

    @Test
    void anAttemptThisNodeNeverRanHasNoOutputToSend() {
        server().handle(request("r2").build());

        await().atMost(Duration.ofSeconds(10)).until(() -> !sent.isEmpty());
        assertThat(sent).singleElement().satisfies(c -> {
            assertThat(c.getError()).isEqualTo("no output kept for attempt 1 of task 3 on node n1");
            assertThat(c.getEof()).isFalse();
        });
    }

    @Test
    void followingSendsNewOutputUntilTheAttemptEnds() {
        Attempt a = start("echo first; sleep 1; echo second");

        server().handle(request("r3").setFollow(true).build());

        await().atMost(Duration.ofSeconds(15)).until(() -> sent.stream().anyMatch(LogChunk::getEof));
        assertThat(a.finished()).isTrue();
        assertThat(new String(joined())).isEqualTo("first\nsecond\n");
    }

    @Test
    void aCancelledFollowStopsWithoutEndOfFile() throws Exception {
        start("echo started; sleep 60");
        LogServer server = server();
        server.handle(request("r4").setFollow(true).build());
        await().atMost(Duration.ofSeconds(10)).until(() -> !sent.isEmpty());

        server.handle(request("r4").setCancel(true).build());

        threads.get(0).join(5000);
        assertThat(threads.get(0).isAlive()).isFalse();
        assertThat(sent).noneMatch(LogChunk::getEof);
        assertThat(new String(joined())).isEqualTo("started\n");
    }

    @Test
    void anAttemptsOutputFileIsCappedKeepingTheNewestOutput() throws Exception {
        Attempt a = start("seq 1 200000; seq 1 1000 >&2", 10_000);
        await().atMost(Duration.ofSeconds(20)).until(a::finished);

        String out = Files.readString(a.log(false));
        assertThat(out.length()).isBetween(5_000, 10_000);
        assertThat(out).endsWith("\n199999\n200000\n");
        assertThat(Files.readString(a.log(true))).startsWith("1\n2\n").endsWith("\n1000\n"); // 3,893 bytes: under the cap

        server().handle(request("r5").build());
        await().atMost(Duration.ofSeconds(10)).until(() -> sent.stream().anyMatch(LogChunk::getEof));
        assertThat(new String(joined())).isEqualTo(out);
    }

    @Test
    void followingACappedOutputSkipsWhatWasCutAndEndsWithTheNewest() {
        start("for i in $(seq 1 20000); do echo line-$i; [ $((i % 2000)) = 0 ] && sleep 0.2; done; true", 4096);

        server().handle(request("r6").setFollow(true).build());

        await().atMost(Duration.ofSeconds(30)).until(() -> sent.stream().anyMatch(LogChunk::getEof));
        // Each chunk is a piece of the output, in order: what was cut before the reader got to it is skipped, never garbled.
        StringBuilder output = new StringBuilder();
        for (int i = 1; i <= 20000; i++) output.append("line-").append(i).append('\n');
        int at = 0;
        for (LogChunk c : sent) {
            String piece = c.getData().toStringUtf8();
            int found = output.indexOf(piece, at);
            assertThat(found).as("chunk at or after %d: %s", at, piece.length() > 40 ? piece.substring(0, 40) + "…" : piece)
                    .isGreaterThanOrEqualTo(at);
            at = found + piece.length();
        }
        assertThat(at).isEqualTo(output.length());
    }

    private Attempt start(String script) {
        return start(script, Attempt.DEFAULT_MAX_LOG_BYTES);
    }

    private Attempt start(String script, long maxLogBytes) {
        Assign assign = Assign.newBuilder().setJobId(AttemptTest.JOB).setTaskIndex(3).setAttempt(1)
                .addCommand("/bin/sh").addCommand("-c").addCommand(script).build();
        Attempt a = new Attempt(AttemptId.verify(assign), assign, root, TaskUser.agentsOwn(), null, maxLogBytes, x -> { });
        attempts.put(a.key(), a);
        a.start();
        return a;
    }

    private byte[] joined() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        sent.forEach(c -> out.writeBytes(c.getData().toByteArray()));
        return out.toByteArray();
    }
}
