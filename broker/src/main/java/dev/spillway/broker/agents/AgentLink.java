package dev.spillway.broker.agents;

import dev.spillway.api.agent.v1.ConnectResponse;

/** The broker's end of one agent's stream, as the agent features see it (the api package implements it over gRPC). */
public interface AgentLink {

    /** Why the broker ends a stream. */
    enum CloseReason {
        /** The agent broke the protocol (message before registering, registered twice, ...). */
        PROTOCOL,
        /** The credential does not let this node register. */
        UNAUTHENTICATED,
        /** The credential is valid but the registration claims more than the node was provisioned with (pool, labels, capacity). */
        NOT_PERMITTED,
        /** Another stream of the same node name is live (or registering): a registration never evicts it. */
        NAME_IN_USE,
        /** An operator re-provisioned the node: the new machine's stream took over. */
        REPLACED,
        /** No report within the lease. */
        LEASE_EXPIRED,
        /** The broker could not record what the agent sent (its database failed): reconnect and send it again. */
        UNAVAILABLE
    }

    /** Sends a message; false when the stream is gone. Called from one thread at a time. */
    boolean send(ConnectResponse message);

    /** Ends the stream from the broker's side. */
    void close(CloseReason reason, String message);

    /**
     * Ends the stream because this broker does not lead: the agent is to connect to the leader at
     * {@code leaderAddress} (host:port; null when not known yet: it tries its configured brokers again).
     */
    default void redirect(String leaderAddress, String message) {
        close(CloseReason.UNAVAILABLE, message);
    }

    /** Ends the stream normally (the agent said goodbye). */
    void complete();

    /** The agent's network address as the transport saw it (for logs and the audit log); null when unknown. */
    String remote();

    /** The agent protocol has finished with one inbound message: the transport may deliver one more. */
    default void handled() {
    }
}
