package dev.spillway.agent;

import dev.spillway.api.agent.v1.AgentServiceGrpc;
import dev.spillway.api.agent.v1.AttemptEndsRecorded;
import dev.spillway.api.agent.v1.AttemptRef;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.LogChunk;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Registered;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The broker's side of the agent protocol on a loopback port, for tests that run a real agent
 * process: it welcomes every registration (handing out {@link #NODE_CREDENTIAL}, as after a join),
 * keeps what the agent reports, acknowledges reported ends as recorded (unless told not to), and
 * sends what the test tells it to.
 */
final class LoopbackBroker implements AutoCloseable {

    /** The node credential handed out at registration: the agent keeps it in its work directory. */
    static final String NODE_CREDENTIAL = "node.loopback-credential-7d1f0b9e";

    private final Server server;
    private final List<AttemptStatus> reports = new CopyOnWriteArrayList<>();
    private final List<LogChunk> logChunks = new CopyOnWriteArrayList<>();
    private final List<Register> registrations = new CopyOnWriteArrayList<>();
    private final List<AttemptStatus> acknowledged = new CopyOnWriteArrayList<>();
    private volatile StreamObserver<ConnectResponse> agent;
    private volatile boolean acknowledgeEnds = true;

    LoopbackBroker() throws IOException {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new AgentServiceGrpc.AgentServiceImplBase() {
                    @Override
                    public StreamObserver<ConnectRequest> connect(StreamObserver<ConnectResponse> responses) {
                        return new StreamObserver<>() {
                            @Override
                            public void onNext(ConnectRequest message) {
                                switch (message.getPayloadCase()) {
                                    case REGISTER -> {
                                        registrations.add(message.getRegister());
                                        synchronized (LoopbackBroker.this) {
                                            responses.onNext(ConnectResponse.newBuilder().setRegistered(Registered.newBuilder()
                                                    .setNodeId("3b0e6a52-1c4d-4e8f-9a7b-5c2d1e0f9a86").setHeartbeatInterval(com.google.protobuf.Duration.newBuilder().setNanos(500_000_000))
                                                    .setLease(com.google.protobuf.Duration.newBuilder().setSeconds(15)).setNodeCredential(NODE_CREDENTIAL)).build());
                                        }
                                        agent = responses;
                                        acknowledge(responses, message.getRegister().getAttemptsList());
                                    }
                                    case REPORT -> {
                                        reports.addAll(message.getReport().getAttemptsList());
                                        acknowledge(responses, message.getReport().getAttemptsList());
                                    }
                                    case LOG_CHUNK -> logChunks.add(message.getLogChunk());
                                    default -> { }
                                }
                            }

                            @Override
                            public void onError(Throwable t) {
                                if (agent == responses) agent = null;
                            }

                            @Override
                            public void onCompleted() {
                                if (agent == responses) agent = null;
                                responses.onCompleted();
                            }
                        };
                    }
                }).build().start();
    }

    /**
     * Acknowledges the ends among {@code attempts} as recorded, as the broker does once its write
     * committed; does nothing while told not to ({@link #acknowledgeEnds}), like a broker whose
     * writes fail or whose acknowledgements are lost.
     */
    private void acknowledge(StreamObserver<ConnectResponse> responses, List<AttemptStatus> attempts) {
        if (!acknowledgeEnds) return;
        AttemptEndsRecorded.Builder recorded = AttemptEndsRecorded.newBuilder();
        for (AttemptStatus a : attempts) {
            if (a.getState() == AttemptState.ATTEMPT_STATE_RUNNING || a.getState() == AttemptState.ATTEMPT_STATE_UNSPECIFIED) continue;
            recorded.addAttempts(AttemptRef.newBuilder().setJobId(a.getJobId()).setTaskIndex(a.getTaskIndex()).setAttempt(a.getAttempt()));
            acknowledged.add(a);
        }
        if (recorded.getAttemptsCount() == 0) return;
        synchronized (this) {
            responses.onNext(ConnectResponse.newBuilder().setEndsRecorded(recorded).build());
        }
    }

    /** Whether ends are acknowledged (the default) or left unacknowledged, so the agent keeps re-sending them. */
    void acknowledgeEnds(boolean acknowledge) {
        acknowledgeEnds = acknowledge;
    }

    /** Ends the agent's stream with UNAVAILABLE, as a broker that goes away does; the agent reconnects. */
    synchronized void dropAgent() {
        StreamObserver<ConnectResponse> a = agent;
        if (a == null) throw new IllegalStateException("no agent connected");
        agent = null;
        a.onError(Status.UNAVAILABLE.withDescription("loopback broker dropped the stream").asRuntimeException());
    }

    /** Every registration received, in order. */
    List<Register> registrations() {
        return registrations;
    }

    /** Every end acknowledged, in order. */
    List<AttemptStatus> acknowledged() {
        return acknowledged;
    }

    String address() {
        return "127.0.0.1:" + server.getPort();
    }

    boolean agentConnected() {
        return agent != null;
    }

    synchronized void send(ConnectResponse message) {
        StreamObserver<ConnectResponse> a = agent;
        if (a == null) throw new IllegalStateException("no agent connected");
        a.onNext(message);
    }

    /** Every attempt status the agent reported, in order. */
    List<AttemptStatus> reports() {
        return reports;
    }

    List<LogChunk> logChunks() {
        return logChunks;
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(10, TimeUnit.SECONDS);
    }
}
