package dev.spillway.broker.api;

import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import io.quarkus.grpc.runtime.health.GrpcHealthStorage;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * The gRPC health protocol's {@code Check} answers NOT_FOUND for a service this server does not
 * serve (Quarkus' own health service would answer {@code UNKNOWN}, which a probe cannot tell from a
 * served service whose health is not known). The empty name is the server as a whole.
 */
@ApplicationScoped
@GlobalInterceptor
public class HealthServiceNames implements ServerInterceptor {

    private static final String CHECK = "grpc.health.v1.Health/Check";

    private final GrpcHealthStorage health;

    @Inject
    public HealthServiceNames(GrpcHealthStorage health) {
        this.health = health;
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        if (!CHECK.equals(call.getMethodDescriptor().getFullMethodName())) return next.startCall(call, headers);
        return new SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
            private boolean refused;

            @Override
            public void onMessage(ReqT message) {
                if (message instanceof HealthCheckRequest request && !served(request.getService())) {
                    refused = true;
                    call.close(Status.NOT_FOUND.withDescription("this server serves no service named '" + request.getService() + "'"), new Metadata());
                    return;
                }
                super.onMessage(message);
            }

            @Override
            public void onHalfClose() {
                if (!refused) super.onHalfClose();
            }
        };
    }

    private boolean served(String service) {
        return service.isEmpty() || health.getStatuses().containsKey(service);
    }
}
