package dev.spillway.broker.agents;

import dev.spillway.api.v1.ConnectResponse;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The connected agents, by node name, and when each node was last heard from. Last-seen times
 * outlive sessions: a node whose stream broke is declared lost only once its lease runs out.
 */
@ApplicationScoped
public class AgentSessions {

    private final Map<String, AgentSession> byNode = new ConcurrentHashMap<>();
    private final Map<String, Instant> lastSeen = new ConcurrentHashMap<>();
    /** Names with a registration under way, and whose it is. */
    private final Map<String, Object> registering = new ConcurrentHashMap<>();
    /** Nodes the broker gives no new work (their cloud instance drains), whatever their agent reports. */
    private final java.util.Set<String> cordoned = ConcurrentHashMap.newKeySet();
    private final Clock clock;

    public AgentSessions(Clock clock) {
        this.clock = clock;
    }

    /**
     * Reserves {@code node} for one registration at a time: false when another registration of the
     * same name is under way. Only the holder attaches a session for the name, so a name seen
     * without a live session while reserved stays so until the holder {@link #release}s it.
     */
    boolean claim(String node, Object holder) {
        return registering.putIfAbsent(node, holder) == null;
    }

    void release(String node, Object holder) {
        registering.remove(node, holder);
    }

    /**
     * Makes {@code session} the node's current one, closing any older session of the same node with
     * {@code whyReplaced} (only a re-provisioning, or the node itself after its old connection fell
     * silent, gets here while one is open).
     */
    void attach(AgentSession session, String whyReplaced) {
        AgentSession previous = byNode.put(session.node(), session);
        heard(session.node());
        if (previous != null && previous != session) previous.close(AgentLink.CloseReason.REPLACED, whyReplaced);
    }

    /** Forgets {@code session} if it is still the node's current one. */
    void detach(AgentSession session) {
        session.markClosed();
        byNode.remove(session.node(), session);
    }

    void heard(String node) {
        lastSeen.put(node, clock.instant());
    }

    public AgentSession get(String node) {
        AgentSession s = byNode.get(node);
        return s == null || s.closed() ? null : s;
    }

    public List<AgentSession> connected() {
        return byNode.values().stream().filter(s -> !s.closed()).toList();
    }

    public boolean send(String node, ConnectResponse message) {
        AgentSession s = get(node);
        return s != null && s.send(message);
    }

    public Instant lastSeen(String node) {
        return lastSeen.get(node);
    }

    public Map<String, Instant> lastSeenTimes() {
        return Map.copyOf(lastSeen);
    }

    void forget(String node) {
        lastSeen.remove(node);
    }

    /** Gives the node no new work from now on (its instance drains before it is terminated). */
    public void cordon(String node) {
        cordoned.add(node);
    }

    public boolean cordoned(String node) {
        return cordoned.contains(node);
    }

    /** The node is gone for good (its instance was terminated): forget its cordon. */
    public void uncordon(String node) {
        cordoned.remove(node);
    }
}
