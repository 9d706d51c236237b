package dev.spillway.agent;

import com.google.protobuf.ByteString;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.LogChunk;
import dev.spillway.api.agent.v1.LogRequest;
import dev.spillway.api.v1.LogStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Answers the broker's requests for an attempt's output ({@code spillway logs}): the stdout or
 * stderr file the attempt wrote in its directory, sent back in chunks of at most 64 KiB over the
 * broker stream, then an end-of-file chunk. A request that follows keeps sending new output while
 * the attempt runs; a cancel request stops it. Output outlives the attempt's record (kept for 10
 * minutes after its end is acknowledged), so it can be read as long as the files are there (until
 * {@code --keep-attempts} after the end). Each file holds at most the newest {@code --max-log-bytes}
 * of output ({@link CappedLog}); a reader that follows skips what is cut before it gets to it.
 */
final class LogServer {

    private static final int CHUNK_BYTES = 64 * 1024;
    private static final long FOLLOW_POLL_MILLIS = 200;

    private final Path attemptsRoot;
    private final String nodeName;
    private final Function<String, Attempt> attempts;
    /**
     * Where chunks go: may block until the broker's stream has room, so a large log is read no
     * faster than the broker takes it and never piles up in this process.
     */
    interface Sink {
        void send(ConnectRequest message) throws InterruptedException;
    }

    private final Sink send;
    private final Executor workers;
    private final Map<String, Sender> senders = new ConcurrentHashMap<>();

    /**
     * @param attemptsRoot where attempts keep their directories ({@code <job>/<task>/<attempt>})
     * @param attempts     an attempt this node knows by its {@link Attempt#key}, or null
     * @param send         sends a message to the broker once its stream can take it (dropped if the stream is down)
     * @param workers      runs each request (they block on files and, following, on time)
     */
    LogServer(Path attemptsRoot, String nodeName, Function<String, Attempt> attempts, Sink send, Executor workers) {
        this.attemptsRoot = attemptsRoot;
        this.nodeName = nodeName;
        this.attempts = attempts;
        this.send = send;
        this.workers = workers;
    }

    void handle(LogRequest request) {
        if (request.getCancel()) {
            Sender sender = senders.remove(request.getRequestId());
            if (sender != null) sender.cancelled = true;
            return;
        }
        Sender sender = new Sender(request);
        senders.put(request.getRequestId(), sender);
        workers.execute(sender);
    }

    private final class Sender implements Runnable {
        private final LogRequest request;
        private volatile boolean cancelled;

        Sender(LogRequest request) {
            this.request = request;
        }

        @Override
        public void run() {
            try {
                AttemptId id;
                try {
                    id = AttemptId.verify(request.getJobId(), request.getTaskIndex(), request.getAttempt());
                } catch (IllegalArgumentException e) {
                    chunk(ByteString.EMPTY, false, "refused by the agent: " + e.getMessage());
                    return;
                }
                Path file = Attempt.log(id.dirUnder(attemptsRoot), request.getStream() == LogStream.LOG_STREAM_STDERR);
                String key = id.key();
                if (!Files.exists(file)) {
                    Attempt a = attempts.apply(key);
                    if (a == null) {
                        chunk(ByteString.EMPTY, false, "no output kept for attempt " + request.getAttempt() + " of task "
                                + request.getTaskIndex() + " on node " + nodeName);
                        return;
                    }
                }
                // While the agent writes the attempt's output, read it through its CappedLog: offsets count output
                // since the start, so a reader that follows is not confused when the oldest output is cut.
                Attempt known = attempts.apply(key);
                CappedLog capped = known == null ? null : known.output(request.getStream() == LogStream.LOG_STREAM_STDERR);
                long offset = 0;
                byte[] buf = new byte[CHUNK_BYTES];
                while (!cancelled) {
                    int n = 0;
                    if (capped != null) {
                        CappedLog.Chunk c = capped.read(offset, buf);
                        offset = c.from(); // past output that was cut meanwhile
                        n = c.count();
                    } else if (Files.exists(file)) {
                        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
                            raf.seek(offset);
                            n = raf.read(buf);
                        }
                    }
                    if (n > 0) {
                        offset += n;
                        chunk(ByteString.copyFrom(buf, 0, n), false, "");
                        continue;
                    }
                    Attempt a = attempts.apply(key);
                    boolean more = request.getFollow() && a != null && !a.finished();
                    if (!more) {
                        chunk(ByteString.EMPTY, true, "");
                        return;
                    }
                    Thread.sleep(FOLLOW_POLL_MILLIS); // following a file: poll for new output
                }
            } catch (IOException e) {
                try {
                    chunk(ByteString.EMPTY, false, "cannot read output: " + e.getMessage());
                } catch (InterruptedException stopped) {
                    Thread.currentThread().interrupt();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                senders.remove(request.getRequestId());
            }
        }

        private void chunk(ByteString data, boolean eof, String error) throws InterruptedException {
            send.send(ConnectRequest.newBuilder().setLogChunk(LogChunk.newBuilder().setRequestId(request.getRequestId())
                    .setData(data).setEof(eof).setError(error)).build());
        }
    }
}
