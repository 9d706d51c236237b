package dev.spillway.broker.agent;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/** Refuses agent streams that do not present the agent token as {@code authorization: Bearer <token>}. */
@ApplicationScoped
public class AgentAuthInterceptor implements ServerInterceptor {

    private static final Logger LOG = Logger.getLogger(AgentAuthInterceptor.class);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final AgentToken token;

    public AgentAuthInterceptor(AgentToken token) {
        this.token = token;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String value = headers.get(AUTHORIZATION);
        String presented = value != null && value.startsWith("Bearer ") ? value.substring(7) : null;
        if (!token.matches(presented)) {
            LOG.warnf("refused an agent connection from %s: %s", call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR),
                    presented == null ? "no bearer token" : "wrong token");
            call.close(Status.UNAUTHENTICATED.withDescription("agent token missing or wrong"), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
    }
}
