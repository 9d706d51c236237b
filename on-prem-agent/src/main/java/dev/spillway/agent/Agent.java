package dev.spillway.agent;

import com.google.protobuf.ByteString;
import dev.spillway.api.v1.AgentServiceGrpc;
import dev.spillway.api.v1.Assign;
import dev.spillway.api.v1.AttemptState;
import dev.spillway.api.v1.AttemptStatus;
import dev.spillway.api.v1.ConnectRequest;
import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.api.v1.LogChunk;
import dev.spillway.api.v1.LogRequest;
import dev.spillway.api.v1.LogStream;
import dev.spillway.api.v1.Register;
import dev.spillway.api.v1.Report;
import dev.spillway.api.v1.Resources;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The node agent. Keeps one stream to the broker (reconnecting with capped exponential backoff),
 * registers this node's capacity, runs assigned attempts as OS processes, reports their progress
 * (the reports double as heartbeats), serves their output on request, and drains on request.
 */
final class Agent {

    private static final Logger LOG = Logger.getLogger(Agent.class.getName());
    private static final Duration FINISHED_RETENTION = Duration.ofMinutes(10);
    private static final long KILL_GRACE_MILLIS = 5000;
    private static final int LOG_CHUNK_BYTES = 64 * 1024;
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    enum DrainMode {
        /** Wait for running attempts up to the drain timeout, then hand back the rest. */
        FINISH,
        /** Stop running attempts at once and hand their tasks back. */
        HAND_BACK
    }

    record Settings(String broker, String token, String name, String pool, long cpuMillis, long memoryMib, int gpus,
                    Map<String, String> labels, Path workDir, DrainMode drainMode, Duration drainTimeout, String version) {
    }

    private final Settings settings;
    private final Map<String, Attempt> attempts = new ConcurrentHashMap<>();
    private final Map<String, LogSender> logSenders = new ConcurrentHashMap<>();
    private final ManagedChannel channel;
    private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(1, daemon("agent-timer"));
    private final ExecutorService workers = Executors.newCachedThreadPool(daemon("agent-worker"));
    private final Object sendLock = new Object();
    private volatile StreamObserver<ConnectRequest> stream;
    private volatile boolean draining;
    private final java.util.concurrent.atomic.AtomicBoolean drainStarted = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.CompletableFuture<Void> drainDone = new java.util.concurrent.CompletableFuture<>();
    private volatile boolean stopping;
    private volatile long heartbeatMillis = 2000;

    /**
     * Credentials to try, best first: a node credential from an earlier join, then the token the
     * agent was started with (shared agent token or one-time join token). A refused one is dropped.
     */
    private final java.util.Deque<String> credentials = new java.util.concurrent.ConcurrentLinkedDeque<>();

    Agent(Settings settings) {
        this.settings = settings;
        readNodeCredential().ifPresent(credentials::add);
        credentials.add(settings.token());
        this.channel = NettyChannelBuilder.forTarget(settings.broker())
                .usePlaintext()
                .intercept(new io.grpc.ClientInterceptor() {
                    @Override
                    public <Q, R> io.grpc.ClientCall<Q, R> interceptCall(io.grpc.MethodDescriptor<Q, R> method, io.grpc.CallOptions options,
                                                                        io.grpc.Channel next) {
                        return new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                            @Override
                            public void start(Listener<R> listener, Metadata headers) {
                                headers.put(AUTHORIZATION, "Bearer " + credentials.peekFirst());
                                super.start(listener, headers);
                            }
                        };
                    }
                })
                .keepAliveTime(30, TimeUnit.SECONDS)
                .maxInboundMessageSize(16 * 1024 * 1024)
                .build();
    }

    /** Connects and reconnects until {@link #drainAndStop()}; returns when stopped. */
    void run() {
        timer.scheduleWithFixedDelay(this::heartbeat, 500, 500, TimeUnit.MILLISECONDS);
        timer.scheduleWithFixedDelay(this::housekeeping, 1, 1, TimeUnit.SECONDS);
        long backoff = 250;
        while (!stopping) {
            CountDownLatch ended = new CountDownLatch(1);
            boolean[] registered = {false};
            try {
                connect(ended, registered);
                ended.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (stopping) break;
            backoff = registered[0] ? 250 : Math.min(backoff * 2, 10_000);
            long wait = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
            if (registered[0]) LOG.info(() -> "reconnecting to " + settings.broker() + " (retrying with backoff up to 10 s)");
            try {
                Thread.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void connect(CountDownLatch ended, boolean[] registered) {
        AgentServiceGrpc.AgentServiceStub stub = AgentServiceGrpc.newStub(channel);
        StreamObserver<ConnectRequest> requests = stub.connect(new ClientResponseObserver<ConnectRequest, ConnectResponse>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<ConnectRequest> call) {
                // nothing: messages are small and infrequent, except logs which check readiness themselves
            }

            @Override
            public void onNext(ConnectResponse message) {
                if (message.hasRegistered()) registered[0] = true;
                handle(message);
            }

            @Override
            public void onError(Throwable t) {
                Status s = Status.fromThrowable(t);
                if (s.getCode() == Status.Code.UNAUTHENTICATED) {
                    LOG.severe("the broker refused this agent's credential: " + s.getDescription());
                    if (credentials.size() > 1) credentials.pollFirst(); // try the next one
                } else if (!stopping) {
                    // Say it once per outage, not at every reconnect attempt.
                    Level level = registered[0] ? Level.WARNING : Level.FINE;
                    LOG.log(level, "stream to the broker ended: " + s.getCode() + (s.getDescription() == null ? "" : " " + s.getDescription()));
                }
                stream = null;
                ended.countDown();
            }

            @Override
            public void onCompleted() {
                stream = null;
                ended.countDown();
            }
        });
        List<AttemptStatus> known = new ArrayList<>();
        for (Attempt a : attempts.values()) {
            if (a.status().getState() != AttemptState.ATTEMPT_STATE_UNSPECIFIED) known.add(a.status());
        }
        Register register = Register.newBuilder()
                .setNodeName(settings.name())
                .setPool(settings.pool())
                .setCapacity(Resources.newBuilder().setCpuMillis(settings.cpuMillis()).setMemoryMib(settings.memoryMib()).setGpus(settings.gpus()))
                .putAllLabels(settings.labels())
                .setAgentVersion(settings.version())
                .addAllAttempts(known)
                .setDraining(draining)
                .build();
        synchronized (sendLock) {
            stream = requests;
            requests.onNext(ConnectRequest.newBuilder().setRegister(register).build());
        }
    }

    private void handle(ConnectResponse message) {
        switch (message.getPayloadCase()) {
            case REGISTERED -> {
                heartbeatMillis = Math.max(100, message.getRegistered().getHeartbeatIntervalMillis());
                String credential = message.getRegistered().getNodeCredential();
                if (!credential.isEmpty()) {
                    // Joined with a one-time token: from now on reconnect with this node's own credential.
                    credentials.clear();
                    credentials.add(credential);
                    writeNodeCredential(credential);
                }
                LOG.info(() -> "registered with " + settings.broker() + " as node " + settings.name() + " (pool " + settings.pool() + ")");
            }
            case ASSIGN -> assign(message.getAssign());
            case KILL -> {
                var k = message.getKill();
                Attempt a = attempts.get(Attempt.key(k.getJobId(), k.getTaskIndex(), k.getAttempt()));
                if (a != null) workers.execute(() -> a.stop(AttemptState.ATTEMPT_STATE_KILLED, "killed: " + k.getReason(), KILL_GRACE_MILLIS));
            }
            case DRAIN -> {
                LOG.info(() -> "the broker asked this node to drain: " + message.getDrain().getReason());
                draining = true;
                heartbeat();
            }
            case LOG_REQUEST -> logs(message.getLogRequest());
            default -> { }
        }
    }

    private void assign(Assign assign) {
        String key = Attempt.key(assign.getJobId(), assign.getTaskIndex(), assign.getAttempt());
        Attempt attempt = new Attempt(assign, settings.workDir().resolve("attempts"), this::changed);
        if (attempts.putIfAbsent(key, attempt) != null) return; // a re-sent assignment we already have
        if (draining) {
            // Assigned while we were starting to drain: give it straight back.
            attempts.remove(key);
            send(ConnectRequest.newBuilder().setReport(Report.newBuilder().setDraining(true).addAttempts(AttemptStatus.newBuilder()
                    .setJobId(assign.getJobId()).setTaskIndex(assign.getTaskIndex()).setAttempt(assign.getAttempt())
                    .setState(AttemptState.ATTEMPT_STATE_HANDED_BACK).setMessage("node is draining"))).build());
            return;
        }
        workers.execute(attempt::start);
    }

    private void changed(Attempt attempt) {
        send(ConnectRequest.newBuilder().setReport(Report.newBuilder().setDraining(draining).addAttempts(attempt.status())).build());
    }

    private void heartbeat() {
        long now = System.currentTimeMillis();
        if (now - lastHeartbeat < heartbeatMillis && !draining) return;
        lastHeartbeat = now;
        Report.Builder report = Report.newBuilder().setDraining(draining);
        for (Attempt a : attempts.values()) {
            if (!a.finished() && a.status().getState() == AttemptState.ATTEMPT_STATE_RUNNING) report.addAttempts(a.status());
        }
        send(ConnectRequest.newBuilder().setReport(report).build());
    }

    private volatile long lastHeartbeat;

    private void housekeeping() {
        Instant cutoff = Instant.now().minus(FINISHED_RETENTION);
        attempts.values().removeIf(a -> a.finished() && a.endTime() != null && a.endTime().isBefore(cutoff));
        for (Attempt a : attempts.values()) {
            if (!a.finished()) a.sample();
        }
    }

    private boolean send(ConnectRequest message) {
        synchronized (sendLock) {
            StreamObserver<ConnectRequest> s = stream;
            if (s == null) return false;
            try {
                s.onNext(message);
                return true;
            } catch (RuntimeException e) {
                return false;
            }
        }
    }

    private Path nodeCredentialFile() {
        return settings.workDir().resolve("node-credential");
    }

    private java.util.Optional<String> readNodeCredential() {
        try {
            Path f = nodeCredentialFile();
            return Files.exists(f) ? java.util.Optional.of(Files.readString(f).trim()) : java.util.Optional.empty();
        } catch (IOException e) {
            return java.util.Optional.empty();
        }
    }

    private void writeNodeCredential(String credential) {
        try {
            Path tmp = Files.createTempFile(settings.workDir(), "node-credential", ".tmp",
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, credential + "\n");
            Files.move(tmp, nodeCredentialFile(), java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.warning("cannot keep the node credential in " + nodeCredentialFile() + ": " + e.getMessage());
        }
    }

    // ---- logs -------------------------------------------------------------------------------

    private void logs(LogRequest request) {
        if (request.getCancel()) {
            LogSender sender = logSenders.remove(request.getRequestId());
            if (sender != null) sender.cancelled = true;
            return;
        }
        LogSender sender = new LogSender(request);
        logSenders.put(request.getRequestId(), sender);
        workers.execute(sender);
    }

    private final class LogSender implements Runnable {
        private final LogRequest request;
        private volatile boolean cancelled;

        LogSender(LogRequest request) {
            this.request = request;
        }

        @Override
        public void run() {
            try {
                Path file = settings.workDir().resolve("attempts").resolve(request.getJobId())
                        .resolve(Integer.toString(request.getTaskIndex())).resolve(Integer.toString(request.getAttempt()))
                        .resolve(request.getStream() == LogStream.LOG_STREAM_STDERR ? "stderr.log" : "stdout.log");
                String key = Attempt.key(request.getJobId(), request.getTaskIndex(), request.getAttempt());
                if (!Files.exists(file)) {
                    Attempt a = attempts.get(key);
                    if (a == null) {
                        chunk(ByteString.EMPTY, false, "no output kept for attempt " + request.getAttempt() + " of task "
                                + request.getTaskIndex() + " on node " + settings.name());
                        return;
                    }
                }
                long offset = 0;
                byte[] buf = new byte[LOG_CHUNK_BYTES];
                while (!cancelled) {
                    int n = 0;
                    if (Files.exists(file)) {
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
                    Attempt a = attempts.get(key);
                    boolean more = request.getFollow() && a != null && !a.finished();
                    if (!more) {
                        chunk(ByteString.EMPTY, true, "");
                        return;
                    }
                    Thread.sleep(200); // following a file: poll for new output
                }
            } catch (IOException e) {
                chunk(ByteString.EMPTY, false, "cannot read output: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                logSenders.remove(request.getRequestId());
            }
        }

        private void chunk(ByteString data, boolean eof, String error) {
            send(ConnectRequest.newBuilder().setLogChunk(LogChunk.newBuilder().setRequestId(request.getRequestId())
                    .setData(data).setEof(eof).setError(error)).build());
        }
    }

    // ---- draining -----------------------------------------------------------------------------

    /** Drains as configured ({@code --drain}, {@code --drain-timeout}). Called on SIGTERM. */
    void drainAndStop() {
        drainAndStop(settings.drainMode(), settings.drainTimeout(), "asked to stop");
    }

    /**
     * Takes no new work, then finishes or hands back running attempts per {@code mode} (finishing
     * for at most {@code timeout}), reports their ends, and closes the stream. The first call
     * drains; later ones wait for it.
     */
    void drainAndStop(DrainMode mode, Duration timeout, String why) {
        if (!drainStarted.compareAndSet(false, true)) {
            drainDone.join();
            return;
        }
        try {
            drain(mode, timeout, why);
        } finally {
            drainDone.complete(null);
        }
    }

    private void drain(DrainMode mode, Duration timeout, String why) {
        draining = true;
        LOG.info(() -> "draining: " + why + " (" + mode.name().toLowerCase().replace('_', '-') + ", up to " + timeout.toSeconds() + " s)");
        heartbeat();
        long deadline = System.nanoTime() + (mode == DrainMode.FINISH ? timeout.toNanos() : 0);
        while (running() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        List<Attempt> left = attempts.values().stream().filter(a -> !a.finished()).toList();
        left.forEach(a -> a.stop(AttemptState.ATTEMPT_STATE_HANDED_BACK, "node drained; task handed back", KILL_GRACE_MILLIS));
        // The ends are reported from the processes' exit callbacks; let them go out before closing.
        long reportDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (running() > 0 && System.nanoTime() < reportDeadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        stopping = true;
        synchronized (sendLock) {
            StreamObserver<ConnectRequest> s = stream;
            if (s != null) {
                try {
                    s.onCompleted();
                } catch (RuntimeException ignored) {
                    // already broken
                }
            }
        }
        channel.shutdown();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        timer.shutdownNow();
        workers.shutdownNow();
        LOG.info(() -> "stopped; " + left.size() + " attempt(s) handed back");
    }

    private long running() {
        return attempts.values().stream().filter(a -> !a.finished()).count();
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            t.setUncaughtExceptionHandler((th, e) -> LOG.log(Level.SEVERE, "unexpected error in " + th.getName(), e));
            return t;
        };
    }
}
