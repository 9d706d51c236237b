package dev.spillway.broker.agents;

import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Resources;
import java.util.Map;

/** One connected agent: its registration and the link to send it messages. */
public final class AgentSession {

    private final String node;
    private final String pool;
    private final Resources capacity;
    private final Map<String, String> labels;
    private final AgentLink link;
    private volatile boolean draining;
    private volatile boolean closed;

    AgentSession(String node, String pool, Resources capacity, Map<String, String> labels, boolean draining, AgentLink link) {
        this.node = node;
        this.pool = pool;
        this.capacity = capacity;
        this.labels = Map.copyOf(labels);
        this.draining = draining;
        this.link = link;
    }

    public String node() {
        return node;
    }

    public String pool() {
        return pool;
    }

    public Resources capacity() {
        return capacity;
    }

    public boolean draining() {
        return draining;
    }

    void draining(boolean draining) {
        this.draining = draining;
    }

    /**
     * The node as the scheduler sees it; allocation comes from the store.
     *
     * @param cordoned the broker gives the node no new work (its cloud instance is draining)
     */
    public NodeView view(Resources allocated, boolean cordoned) {
        return new NodeView(node, pool, capacity, allocated, labels, !draining && !closed && !cordoned);
    }

    /** Sends a message; false if the stream is gone. Links are not thread-safe, hence the lock. */
    public synchronized boolean send(ConnectResponse message) {
        if (closed) return false;
        try {
            if (link.send(message)) return true;
        } catch (RuntimeException e) {
            // the peer went away mid-send
        }
        closed = true;
        return false;
    }

    /** Ends the stream from the broker's side (e.g. lease expired, replaced by a newer session). */
    public synchronized void close(AgentLink.CloseReason reason, String message) {
        if (closed) return;
        closed = true;
        try {
            link.close(reason, message);
        } catch (RuntimeException ignored) {
            // already cancelled by the peer
        }
    }

    /** Ends the stream, sending the agent to the leader at {@code leaderAddress} ({@link AgentLink#redirect}). */
    public synchronized void redirect(String leaderAddress, String message) {
        if (closed) return;
        closed = true;
        try {
            link.redirect(leaderAddress, message);
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
        return "agent " + node + " (pool " + pool + ", " + capacity + ")";
    }
}
