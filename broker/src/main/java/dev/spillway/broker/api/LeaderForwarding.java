package dev.spillway.broker.api;

import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.broker.leader.Leadership;
import dev.spillway.broker.tls.BrokerTransport;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * On a follower, the calls that need the leader's live view of the cluster are answered by the
 * leader: the broker passes them on as they are (same method, same messages, the caller's
 * credential, the caller's deadline) and relays the answer, streams included, with flow control.
 * The leader alone holds the agents' streams (task logs, kills of cancelled attempts), the
 * scheduling cycle's explanation of why work waits, the burst controller's standing, and the
 * connected nodes that estimates and policy trials place on. Every other call, submissions
 * included, is served by whichever broker receives it, from the database.
 *
 * <p>Runs after authentication ({@link CallerInterceptor}): a follower refuses what it would
 * refuse as a leader before passing anything on. A call passed on once is never passed on again
 * (a broker that is not the leader after all says UNAVAILABLE, and the client retries).
 */
@ApplicationScoped
@GlobalInterceptor
@Priority(-100)
public class LeaderForwarding implements ServerInterceptor {

    /** Marks a call a follower passed on; its value is that follower's id. */
    static final Metadata.Key<String> FORWARDED_BY = Metadata.Key.of("spillway-forwarded-by", Metadata.ASCII_STRING_MARSHALLER);

    /** The methods answered from the leader's live view. */
    static final Set<String> LEADER_VIEW = Set.of(
            JobServiceGrpc.getGetJobMethod().getFullMethodName(),
            JobServiceGrpc.getListJobsMethod().getFullMethodName(),
            JobServiceGrpc.getCancelJobMethod().getFullMethodName(),
            JobServiceGrpc.getGetTaskLogsMethod().getFullMethodName(),
            JobServiceGrpc.getEstimateJobMethod().getFullMethodName(),
            PoolServiceGrpc.getListPoolsMethod().getFullMethodName(),
            PoolServiceGrpc.getGetPoolMethod().getFullMethodName(),
            PoolServiceGrpc.getStopBurstingMethod().getFullMethodName(),
            PolicyServiceGrpc.getTestPoliciesMethod().getFullMethodName(),
            PolicyServiceGrpc.getWhatIfMethod().getFullMethodName());

    /** Headers the transport sets itself, never copied onto the call to the leader. */
    private static final Set<String> TRANSPORT_HEADERS = Set.of("content-type", "te", "user-agent", "host", "accept-encoding");

    private final Leadership leadership;
    private final BrokerTransport transport;
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

    public LeaderForwarding(Leadership leadership, BrokerTransport transport) {
        this.leadership = leadership;
        this.transport = transport;
    }

    void close(@Observes ShutdownEvent event) {
        channels.values().forEach(ManagedChannel::shutdownNow);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (!LEADER_VIEW.contains(call.getMethodDescriptor().getFullMethodName()) || leadership.isLeader()) {
            return next.startCall(call, headers);
        }
        Optional<String> leader = leadership.leaderAddress();
        if (leader.isEmpty() || headers.containsKey(FORWARDED_BY)) {
            io.grpc.StatusRuntimeException unavailable = ApiErrors.toStatus(new dev.spillway.broker.errors.Unavailable(
                    "no broker leads right now (a takeover is under way, at most one lease length): try again"));
            call.close(unavailable.getStatus(), unavailable.getTrailers());
            return new ServerCall.Listener<>() { };
        }
        return new Relay<>(call, channel(leader.get()), headers).start();
    }

    /**
     * On a follower, a channel to the leader for a REST call that needs its live view, carrying the
     * caller's credential ({@code authorization}); empty on the leader (it answers itself).
     * Unavailable while no broker leads.
     */
    Optional<io.grpc.Channel> forRest(String authorization) {
        if (leadership.isLeader()) return Optional.empty();
        String leader = leadership.leaderAddress().orElseThrow(() -> new dev.spillway.broker.errors.Unavailable(
                "no broker leads right now (a takeover is under way, at most one lease length): try again"));
        Metadata headers = new Metadata();
        if (authorization != null) headers.put(CallerInterceptor.AUTHORIZATION, authorization);
        headers.put(FORWARDED_BY, leadership.id());
        io.grpc.Channel withHeaders = io.grpc.ClientInterceptors.intercept(channel(leader), io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
        return Optional.of(new io.grpc.Channel() {
            @Override
            public <Q, R> ClientCall<Q, R> newCall(io.grpc.MethodDescriptor<Q, R> method, CallOptions options) {
                // A REST call has no deadline of its own: the leader gets 30 s to answer.
                return withHeaders.newCall(method, options.getDeadline() == null ? options.withDeadlineAfter(30, java.util.concurrent.TimeUnit.SECONDS) : options);
            }

            @Override
            public String authority() {
                return withHeaders.authority();
            }
        });
    }

    /** The leader's answer to a call made with {@link #forRest}, without blocking a thread while it comes. */
    static <T> io.smallrye.mutiny.Uni<T> answer(com.google.common.util.concurrent.ListenableFuture<T> call) {
        return io.smallrye.mutiny.Uni.createFrom().emitter(e -> com.google.common.util.concurrent.Futures.addCallback(call,
                new com.google.common.util.concurrent.FutureCallback<T>() {
                    @Override
                    public void onSuccess(T result) {
                        e.complete(result);
                    }

                    @Override
                    public void onFailure(Throwable t) {
                        e.fail(t);
                    }
                }, com.google.common.util.concurrent.MoreExecutors.directExecutor()));
    }

    /** A channel to the leader at {@code address}, verified (under TLS) as the name this broker's own certificate carries. */
    ManagedChannel channel(String address) {
        // Channels to former leaders go.
        channels.entrySet().removeIf(old -> {
            if (old.getKey().equals(address)) return false;
            old.getValue().shutdown();
            return true;
        });
        // Pings find a leader that stopped answering (frozen, cut off) within 10 s: the call fails and the caller retries.
        return channels.computeIfAbsent(address, a -> BrokerChannels.to(transport, a).maxInboundMessageSize(8 * 1024 * 1024)
                .keepAliveTime(5, java.util.concurrent.TimeUnit.SECONDS).keepAliveTimeout(5, java.util.concurrent.TimeUnit.SECONDS).build());
    }

    /** The headers a call to the leader carries: the caller's (its credential), less the transport's own, marked as passed on. */
    private Metadata forwardedHeaders(Metadata in) {
        Metadata out = new Metadata();
        for (String key : in.keys()) {
            if (key.startsWith(":") || key.startsWith("grpc-") || TRANSPORT_HEADERS.contains(key)) continue;
            if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
                Metadata.Key<byte[]> k = Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER);
                Iterable<byte[]> values = in.getAll(k);
                if (values != null) values.forEach(v -> out.put(k, v));
            } else {
                Metadata.Key<String> k = Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER);
                Iterable<String> values = in.getAll(k);
                if (values != null) values.forEach(v -> out.put(k, v));
            }
        }
        out.put(FORWARDED_BY, leadership.id());
        return out;
    }

    /**
     * One call relayed both ways. The caller's messages go on one at a time as the leader's side
     * can take them; the leader's go back one at a time as the caller reads them (a caller that stops
     * reading holds the leader's stream back, not this broker's memory). The leader's side calls
     * back on the caller's call's event loop, so that both sides run one at a time: a server call is
     * not safe for concurrent use.
     */
    private final class Relay<Q, R> {
        private final ServerCall<Q, R> call;
        private final ClientCall<Q, R> upstream;
        private final Metadata headers;
        private boolean wantsMore;

        Relay(ServerCall<Q, R> call, ManagedChannel channel, Metadata headers) {
            this.call = call;
            this.headers = headers;
            CallOptions options = CallOptions.DEFAULT;
            var deadline = Context.current().getDeadline();
            if (deadline != null) options = options.withDeadline(deadline);
            io.vertx.core.Context loop = io.vertx.core.Vertx.currentContext();
            if (loop != null) options = options.withExecutor(task -> loop.runOnContext(v -> task.run()));
            this.upstream = channel.newCall(call.getMethodDescriptor(), options);
        }

        ServerCall.Listener<Q> start() {
            upstream.start(new ClientCall.Listener<>() {
                @Override
                public void onHeaders(Metadata h) {
                    call.sendHeaders(new Metadata());
                }

                @Override
                public void onMessage(R message) {
                    call.sendMessage(message);
                    if (call.isReady()) upstream.request(1);
                    else wantsMore = true;
                }

                @Override
                public void onClose(Status status, Metadata trailers) {
                    call.close(status, trailers);
                }
            }, forwardedHeaders(headers));
            upstream.request(1);
            call.request(1);
            return new ServerCall.Listener<>() {
                @Override
                public void onMessage(Q message) {
                    upstream.sendMessage(message);
                    call.request(1);
                }

                @Override
                public void onHalfClose() {
                    upstream.halfClose();
                }

                @Override
                public void onCancel() {
                    upstream.cancel("the caller cancelled", null);
                }

                @Override
                public void onReady() {
                    if (wantsMore && call.isReady()) {
                        wantsMore = false;
                        upstream.request(1);
                    }
                }
            };
        }
    }
}
