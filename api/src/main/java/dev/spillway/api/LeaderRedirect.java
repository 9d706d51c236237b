package dev.spillway.api;

import io.grpc.Metadata;

/**
 * The trailer with which a broker that does not lead sends an agent to the leader (see
 * {@code AgentService} in agent.proto): {@code spillway-leader: host:port}, or an empty value when
 * it knows no leader yet.
 */
public final class LeaderRedirect {

    /** The leader's address, host:port. */
    public static final Metadata.Key<String> LEADER = Metadata.Key.of("spillway-leader", Metadata.ASCII_STRING_MARSHALLER);

    private LeaderRedirect() {}

    /** Trailers naming the leader at {@code address}; with an empty value when it is not known. */
    public static Metadata trailers(String address) {
        Metadata m = new Metadata();
        m.put(LEADER, address == null ? "" : address);
        return m;
    }

    /** Whether {@code trailers} come from a broker that does not lead (whether or not it named the leader). */
    public static boolean notLeader(Metadata trailers) {
        return trailers != null && trailers.containsKey(LEADER);
    }

    /** The leader named by {@code trailers}, or null. */
    public static String leader(Metadata trailers) {
        if (trailers == null) return null;
        String v = trailers.get(LEADER);
        return v == null || v.isBlank() ? null : v;
    }
}
