package dev.spillway.broker.api;

import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.broker.security.Authenticator;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.Permission;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every client call is authenticated and authorised here, before any service code runs: the
 * bearer credential becomes a {@link Caller} (in the gRPC context for the service), and the
 * method's {@link Permission} must be one the caller's role holds. A method missing from
 * {@link #PERMISSIONS} is refused (fail closed). Agents have their own credentials and service;
 * the gRPC health service answers anyone (probes carry no credential; it tells nothing).
 */
@ApplicationScoped
@GlobalInterceptor
public class CallerInterceptor implements ServerInterceptor {

    static final Context.Key<Caller> CALLER = Context.key("spillway-caller");
    static final Context.Key<String> REMOTE = Context.key("spillway-remote");
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    /** Services that authenticate their callers themselves, or need no caller. */
    private static final Set<String> OWN_AUTHENTICATION = Set.of("spillway.agent.v1.AgentService", "grpc.health.v1.Health");

    static final Map<String, Permission> PERMISSIONS = Map.ofEntries(
            Map.entry(JobServiceGrpc.getSubmitJobMethod().getFullMethodName(), Permission.JOB_SUBMIT),
            Map.entry(JobServiceGrpc.getEstimateJobMethod().getFullMethodName(), Permission.JOB_SUBMIT),
            Map.entry(JobServiceGrpc.getGetJobMethod().getFullMethodName(), Permission.JOB_READ),
            Map.entry(JobServiceGrpc.getListTasksMethod().getFullMethodName(), Permission.JOB_READ),
            Map.entry(JobServiceGrpc.getGetTaskMethod().getFullMethodName(), Permission.JOB_READ),
            Map.entry(JobServiceGrpc.getListJobsMethod().getFullMethodName(), Permission.JOB_READ),
            Map.entry(JobServiceGrpc.getWatchJobMethod().getFullMethodName(), Permission.JOB_READ),
            Map.entry(JobServiceGrpc.getCancelJobMethod().getFullMethodName(), Permission.JOB_CANCEL),
            Map.entry(JobServiceGrpc.getGetTaskLogsMethod().getFullMethodName(), Permission.JOB_LOGS),
            Map.entry(PoolServiceGrpc.getListPoolsMethod().getFullMethodName(), Permission.CLUSTER_READ),
            Map.entry(PoolServiceGrpc.getGetPoolMethod().getFullMethodName(), Permission.CLUSTER_READ),
            Map.entry(PoolServiceGrpc.getListInstancesMethod().getFullMethodName(), Permission.INSTANCES_READ),
            Map.entry(PoolServiceGrpc.getStopBurstingMethod().getFullMethodName(), Permission.CLUSTER_WRITE),
            Map.entry(PoolServiceGrpc.getGetQueueStatusMethod().getFullMethodName(), Permission.CLUSTER_READ),
            Map.entry(NodeServiceGrpc.getListNodesMethod().getFullMethodName(), Permission.CLUSTER_READ),
            Map.entry(dev.spillway.api.v1.BrokerServiceGrpc.getGetStatusMethod().getFullMethodName(), Permission.CLUSTER_READ),
            Map.entry(NodeServiceGrpc.getGetNodeMethod().getFullMethodName(), Permission.CLUSTER_READ),
            Map.entry(NodeServiceGrpc.getCreateJoinTokenMethod().getFullMethodName(), Permission.CLUSTER_WRITE),
            Map.entry(AccessServiceGrpc.getWhoAmIMethod().getFullMethodName(), Permission.WHOAMI),
            Map.entry(dev.spillway.api.v1.PolicyServiceGrpc.getApplyPoliciesMethod().getFullMethodName(), Permission.POLICY_WRITE),
            Map.entry(dev.spillway.api.v1.PolicyServiceGrpc.getGetPoliciesMethod().getFullMethodName(), Permission.POLICY_READ),
            Map.entry(dev.spillway.api.v1.PolicyServiceGrpc.getListPolicyVersionsMethod().getFullMethodName(), Permission.POLICY_READ),
            Map.entry(dev.spillway.api.v1.PolicyServiceGrpc.getTestPoliciesMethod().getFullMethodName(), Permission.POLICY_WRITE),
            Map.entry(dev.spillway.api.v1.PolicyServiceGrpc.getListDecisionsMethod().getFullMethodName(), Permission.JOB_READ),
            Map.entry(dev.spillway.api.v1.PolicyServiceGrpc.getWhatIfMethod().getFullMethodName(), Permission.POLICY_WRITE),
            Map.entry(dev.spillway.api.v1.CostServiceGrpc.getGetCostReportMethod().getFullMethodName(), Permission.COST_READ),
            Map.entry(dev.spillway.api.v1.BudgetServiceGrpc.getSetBudgetMethod().getFullMethodName(), Permission.BUDGET_WRITE),
            Map.entry(dev.spillway.api.v1.BudgetServiceGrpc.getDeleteBudgetMethod().getFullMethodName(), Permission.BUDGET_WRITE),
            Map.entry(dev.spillway.api.v1.BudgetServiceGrpc.getGetBudgetMethod().getFullMethodName(), Permission.COST_READ),
            Map.entry(dev.spillway.api.v1.BudgetServiceGrpc.getListBudgetsMethod().getFullMethodName(), Permission.COST_READ),
            Map.entry(dev.spillway.api.v1.CostServiceGrpc.getExportCostsMethod().getFullMethodName(), Permission.COST_READ),
            Map.entry(AccessServiceGrpc.getCreateApiKeyMethod().getFullMethodName(), Permission.KEYS_MANAGE),
            Map.entry(AccessServiceGrpc.getListApiKeysMethod().getFullMethodName(), Permission.KEYS_MANAGE),
            Map.entry(AccessServiceGrpc.getRevokeApiKeyMethod().getFullMethodName(), Permission.KEYS_MANAGE),
            Map.entry(AccessServiceGrpc.getListAuditEventsMethod().getFullMethodName(), Permission.AUDIT_READ),
            // Reflection describes the API to any authenticated caller (grpcurl -H 'authorization: Bearer ...').
            Map.entry("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Permission.WHOAMI),
            Map.entry("grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Permission.WHOAMI));

    private final Authenticator authenticator;

    public CallerInterceptor(Authenticator authenticator) {
        this.authenticator = authenticator;
    }

    /** The authenticated caller of the current call (set for every method this interceptor admits). */
    static Caller caller() {
        Caller c = CALLER.get();
        if (c == null) throw new IllegalStateException("no authenticated caller in this call's context");
        return c;
    }

    /** The current caller's network address, for the audit log. */
    static String remote() {
        return REMOTE.get();
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        MethodDescriptor<Q, R> method = call.getMethodDescriptor();
        if (OWN_AUTHENTICATION.contains(method.getServiceName())) return next.startCall(call, headers);
        Permission needed = PERMISSIONS.get(method.getFullMethodName());
        if (needed == null) {
            closeUnlessCancelled(call, ApiErrors.toStatus(dev.spillway.broker.errors.PermissionDenied.permission("none",
                    "no access rule for " + method.getFullMethodName())));
            return new ServerCall.Listener<>() {};
        }
        SocketAddress address = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        String remote = address == null ? null : address.toString();
        io.vertx.core.Context origin = io.vertx.core.Vertx.currentContext();
        Context context = Context.current();
        Deferred<Q> deferred = new Deferred<>();
        authenticator.authenticate(headers.get(AUTHORIZATION)).subscribe().with(
                caller -> onOrigin(origin, () -> {
                    if (!caller.may(needed)) {
                        String permission = needed.name().toLowerCase(java.util.Locale.ROOT);
                        closeUnlessCancelled(call, ApiErrors.toStatus(dev.spillway.broker.errors.PermissionDenied.permission(permission,
                                "role " + caller.role().label() + " may not call " + method.getBareMethodName() + " (" + permission + ")")));
                        return;
                    }
                    deferred.start(FieldBehaviors.enforcing(call,
                            Contexts.interceptCall(context.withValue(CALLER, caller).withValue(REMOTE, remote), call, headers, next)));
                }),
                failure -> onOrigin(origin, () -> closeUnlessCancelled(call, ApiErrors.toStatus(failure))));
        return deferred;
    }

    private static void closeUnlessCancelled(ServerCall<?, ?> call, io.grpc.StatusRuntimeException status) {
        if (!call.isCancelled()) call.close(status.getStatus(), status.getTrailers() == null ? new Metadata() : status.getTrailers());
    }

    /** Back on the call's own event loop, where the transport expects calls on it. */
    private static void onOrigin(io.vertx.core.Context origin, Runnable r) {
        if (origin == null || io.vertx.core.Vertx.currentContext() == origin) r.run();
        else origin.runOnContext(v -> r.run());
    }

    /**
     * The call's listener while its caller is being authenticated: keeps what arrives (at most a
     * cancellation or completion, since no message is requested before the service starts) and
     * hands it to the service's listener once there is one. Used on the call's event loop only.
     */
    private static final class Deferred<Q> extends ServerCall.Listener<Q> {
        private ServerCall.Listener<Q> delegate;
        private List<java.util.function.Consumer<ServerCall.Listener<Q>>> pending = new ArrayList<>();

        void start(ServerCall.Listener<Q> listener) {
            delegate = listener;
            for (var event : pending) event.accept(listener);
            pending = null;
        }

        private void on(java.util.function.Consumer<ServerCall.Listener<Q>> event) {
            if (delegate != null) event.accept(delegate);
            else pending.add(event);
        }

        @Override
        public void onMessage(Q message) {
            on(l -> l.onMessage(message));
        }

        @Override
        public void onHalfClose() {
            on(ServerCall.Listener::onHalfClose);
        }

        @Override
        public void onCancel() {
            on(ServerCall.Listener::onCancel);
        }

        @Override
        public void onComplete() {
            on(ServerCall.Listener::onComplete);
        }

        @Override
        public void onReady() {
            on(ServerCall.Listener::onReady);
        }
    }
}
