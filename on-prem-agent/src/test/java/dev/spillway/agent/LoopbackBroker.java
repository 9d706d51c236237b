package dev.spillway.agent;

import dev.spillway.api.v1.AgentServiceGrpc;
import dev.spillway.api.v1.AttemptStatus;
import dev.spillway.api.v1.ConnectRequest;
import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.api.v1.LogChunk;
import dev.spillway.api.v1.Registered;
import io.grpc.Server;
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
 * keeps what the agent reports, and sends what the test tells it to.
 */
final class LoopbackBroker implements AutoCloseable {

    /** The node credential handed out at registration: the agent keeps it in its work directory. */
    static final String NODE_CREDENTIAL = "node.loopback-credential-7d1f0b9e";

    private final Server server;
    private final List<AttemptStatus> reports = new CopyOnWriteArrayList<>();
    private final List<LogChunk> logChunks = new CopyOnWriteArrayList<>();
    private volatile StreamObserver<ConnectResponse> agent;

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
                                        synchronized (LoopbackBroker.this) {
                                            responses.onNext(ConnectResponse.newBuilder().setRegistered(Registered.newBuilder()
                                                    .setNodeId("3b0e6a52-1c4d-4e8f-9a7b-5c2d1e0f9a86").setHeartbeatIntervalMillis(500)
                                                    .setLeaseMillis(15_000).setNodeCredential(NODE_CREDENTIAL)).build());
                                        }
                                        agent = responses;
                                    }
                                    case REPORT -> reports.addAll(message.getReport().getAttemptsList());
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
