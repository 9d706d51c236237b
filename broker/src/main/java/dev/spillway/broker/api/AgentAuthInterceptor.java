package dev.spillway.broker.api;

import dev.spillway.broker.agents.AgentToken;
import dev.spillway.broker.agents.PresentedCredential;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/**
 * Admits agent streams that present a credential: the shared agent token when enabled (checked
 * here), or a join token or node credential (checked at registration, once the node name is known). The
 * presented credential travels to the stream handler in the gRPC context.
 */
@ApplicationScoped
public class AgentAuthInterceptor implements ServerInterceptor {

    private static final Logger LOG = Logger.getLogger(AgentAuthInterceptor.class);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    static final Context.Key<PresentedCredential> PRESENTED = Context.key("spillway-agent-credential");
    /** The agent's address as the transport saw it, for the log and the audit log of its registration. */
    static final Context.Key<String> REMOTE = Context.key("spillway-agent-remote");

    private final AgentToken token;

    public AgentAuthInterceptor(AgentToken token) {
        this.token = token;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String value = headers.get(AUTHORIZATION);
        String presented = value != null && value.startsWith("Bearer ") ? value.substring(7) : null;
        PresentedCredential credential = PresentedCredential.classify(presented, token);
        java.net.SocketAddress address = call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        String remote = address == null ? null : address.toString();
        if (credential == null) {
            LOG.warnf("refused an agent connection from %s: %s", remote,
                    presented == null ? "no bearer credential" : "wrong token" + (token.enabled() ? ""
                            : " (the shared agent token is off: agents join with a join token, then use their node credential)"));
            call.close(Status.UNAUTHENTICATED.withDescription("agent credential missing or wrong"), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return Contexts.interceptCall(Context.current().withValue(PRESENTED, credential).withValue(REMOTE, remote), call, headers, next);
    }
}
