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
    /** Nodes the broker gives no new work (their cloud instance drains), whatever their agent reports. */
    private final java.util.Set<String> cordoned = ConcurrentHashMap.newKeySet();
    private final Clock clock;

    public AgentSessions(Clock clock) {
        this.clock = clock;
    }

    /** Makes {@code session} the node's current one, closing any older session of the same node. */
    void attach(AgentSession session) {
        AgentSession previous = byNode.put(session.node(), session);
        heard(session.node());
        if (previous != null && previous != session) {
            previous.close(AgentLink.CloseReason.REPLACED, "replaced by a newer connection of node " + session.node());
        }
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
