package dev.spillway.broker.agents;

import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.core.lifecycle.Leases;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The connected agents, by node name, and when each node was last heard from. Last-heard times
 * outlive sessions: a node whose stream broke is declared lost only once its lease runs out.
 * Silence is measured on the monotonic {@link Ticker}; the wall-clock time of each last message is
 * kept only to be stored and shown.
 */
@ApplicationScoped
public class AgentSessions {

    private final Map<String, AgentSession> byNode = new ConcurrentHashMap<>();
    private final Map<String, Leases.Heard> lastHeard = new ConcurrentHashMap<>();
    /** Names with a registration under way, and whose it is. */
    private final Map<String, Object> registering = new ConcurrentHashMap<>();
    /** Names whose registration under way presented a valid credential (being stored now): never declared lost meanwhile. */
    private final Map<String, Object> admitting = new ConcurrentHashMap<>();
    /** Nodes the broker gives no new work (their cloud instance drains), whatever their agent reports. */
    private final java.util.Set<String> cordoned = ConcurrentHashMap.newKeySet();
    private final Clock clock;
    private final Ticker ticker;

    public AgentSessions(Clock clock, Ticker ticker) {
        this.clock = clock;
        this.ticker = ticker;
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
        admitting.remove(node, holder);
        registering.remove(node, holder);
    }

    /**
     * The holder's registration of {@code node} presented a valid credential: the node counts as
     * heard when its registration arrived ({@code arrived}, or later if heard since) and is not
     * declared lost while the registration is stored (until {@link #release}). An unverified
     * registration counts for nothing: anyone can send a node's name.
     */
    void admitting(String node, Object holder, Leases.Heard arrived) {
        if (registering.get(node) != holder) return;
        admitting.put(node, holder);
        heard(node, arrived);
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

    /** Now, on the monotonic clock and (for display) the wall clock. */
    Leases.Heard now() {
        return new Leases.Heard(ticker.nanos(), clock.instant());
    }

    void heard(String node) {
        heard(node, now());
    }

    /** The node was heard {@code at} (a message's arrival); an earlier time never replaces a later one. */
    void heard(String node, Leases.Heard at) {
        lastHeard.merge(node, at, Leases.Heard::latest);
    }

    /**
     * This broker no longer leads: every agent is sent to the leader, and what was heard from them is
     * forgotten (should this broker lead again, its nodes get the start grace to come back).
     */
    void steppedDown(@jakarta.enterprise.event.Observes dev.spillway.broker.leader.Leadership.SteppedDown event) {
        String why = "this broker no longer leads (" + event.why() + ")"
                + (event.leaderAddress() == null ? "; connect to the leader" : "; the leader is at " + event.leaderAddress());
        for (AgentSession s : List.copyOf(byNode.values())) {
            s.redirect(event.leaderAddress(), why);
            detach(s);
        }
        lastHeard.clear();
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

    /** The wall-clock time the node was last heard (for display), or null when not heard since the broker started. */
    public Instant lastSeen(String node) {
        Leases.Heard h = lastHeard.get(node);
        return h == null ? null : h.wallTime();
    }

    /** How long the node has been silent, on the monotonic clock; null when not heard since the broker started. */
    public Duration silence(String node) {
        Leases.Heard h = lastHeard.get(node);
        return h == null ? null : Duration.ofNanos(ticker.nanos() - h.monotonicNanos());
    }

    /** Wall-clock last-seen times, to be stored. */
    public Map<String, Instant> lastSeenTimes() {
        Map<String, Instant> out = new HashMap<>();
        lastHeard.forEach((node, h) -> out.put(node, h.wallTime()));
        return out;
    }

    /** Every node's last message since the broker started, for the lease decision. */
    Map<String, Leases.Heard> lastHeard() {
        return Map.copyOf(lastHeard);
    }

    /** Nodes whose registration with a valid credential is being stored right now. */
    Set<String> admitting() {
        return Set.copyOf(admitting.keySet());
    }

    /** Forgets when the node was heard (it was declared lost), unless it was heard after {@code decidedNanos} (it is back). */
    void forget(String node, long decidedNanos) {
        lastHeard.computeIfPresent(node, (n, h) -> h.monotonicNanos() - decidedNanos > 0 ? h : null);
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
