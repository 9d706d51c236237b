package dev.spillway.broker.agents;

/**
 * What an agent presented when it opened its stream.
 *
 * @param secret null for the shared agent token (already verified when the stream opened)
 */
public record PresentedCredential(Kind kind, String secret) {

    public enum Kind { SHARED, JOIN, NODE }

    /** The credential a bearer value is, or null when it is none of ours. */
    public static PresentedCredential classify(String bearer, AgentToken sharedToken) {
        if (sharedToken.matches(bearer)) return new PresentedCredential(Kind.SHARED, null);
        if (bearer != null && bearer.startsWith(AgentCredentials.JOIN_PREFIX)) return new PresentedCredential(Kind.JOIN, bearer);
        if (bearer != null && bearer.startsWith(AgentCredentials.NODE_PREFIX)) return new PresentedCredential(Kind.NODE, bearer);
        return null;
    }
}
