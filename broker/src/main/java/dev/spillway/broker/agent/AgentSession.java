package dev.spillway.broker.agent;

import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Resources;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.Map;

/** One connected agent: its registration and the stream to send it messages. */
public final class AgentSession {

    private final String node;
    private final String pool;
    private final Resources capacity;
    private final Map<String, String> labels;
    private final StreamObserver<ConnectResponse> out;
    private volatile boolean draining;
    private volatile boolean closed;

    AgentSession(String node, String pool, Resources capacity, Map<String, String> labels, boolean draining,
                 StreamObserver<ConnectResponse> out) {
        this.node = node;
        this.pool = pool;
        this.capacity = capacity;
        this.labels = Map.copyOf(labels);
        this.draining = draining;
        this.out = out;
    }

    public String node() {
        return node;
    }

    public String pool() {
        return pool;
    }

    public boolean draining() {
        return draining;
    }

    void draining(boolean draining) {
        this.draining = draining;
    }

    /** The node as the scheduler sees it; allocation comes from the store. */
    public NodeView view(Resources allocated) {
        return new NodeView(node, pool, capacity, allocated, labels, !draining && !closed);
    }

    /** Sends a message; false if the stream is gone. Streams are not thread-safe, hence the lock. */
    public synchronized boolean send(ConnectResponse message) {
        if (closed) return false;
        try {
            out.onNext(message);
            return true;
        } catch (RuntimeException e) {
            closed = true;
            return false;
        }
    }

    /** Ends the stream from the broker's side (e.g. lease expired, replaced by a newer session). */
    public synchronized void close(Status status) {
        if (closed) return;
        closed = true;
        try {
            out.onError(status.asRuntimeException());
        } catch (RuntimeException ignored) {
            // already cancelled by the peer
        }
    }

    synchronized void markClosed() {
        closed = true;
    }

    public boolean closed() {
        return closed;
    }

    @Override
    public String toString() {
        return "agent " + node + " (pool " + pool + ", " + capacity + ") at " + Instant.now();
    }
}
