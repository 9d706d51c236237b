package dev.spillway.broker.api;

import dev.spillway.broker.agents.AgentToken;
import dev.spillway.broker.config.BrokerConfig;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * The local administrator's secret: the file {@code <data-dir>/admin-token}, created readable by
 * its owner only, so whoever runs the local setup (and no one else on the machine) may stop its
 * bursting. Calls carry it as {@code authorization: Bearer ...}; this interceptor only passes the
 * presented value on, and the methods that need it check it.
 */
@ApplicationScoped
@io.quarkus.runtime.Startup // the file must exist before a local setup reads it
public class AdminToken implements ServerInterceptor {

    static final Context.Key<String> PRESENTED = Context.key("spillway-admin-credential");
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final byte[] token;

    public AdminToken(BrokerConfig config) {
        this.token = AgentToken.readOrCreate(Path.of(config.dataDir(), "admin-token")).getBytes(StandardCharsets.UTF_8);
    }

    /** Whether the call at hand presented the admin token (constant-time comparison). */
    boolean presented() {
        String value = PRESENTED.get();
        return value != null && MessageDigest.isEqual(token, value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String value = headers.get(AUTHORIZATION);
        String bearer = value != null && value.startsWith("Bearer ") ? value.substring(7) : null;
        return Contexts.interceptCall(Context.current().withValue(PRESENTED, bearer), call, headers, next);
    }
}
