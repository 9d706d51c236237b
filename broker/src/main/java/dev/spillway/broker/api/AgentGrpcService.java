package dev.spillway.broker.api;

import dev.spillway.api.LeaderRedirect;
import dev.spillway.api.agent.v1.AgentServiceGrpc;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.broker.agents.AgentConnections;
import dev.spillway.broker.agents.AgentLink;
import dev.spillway.broker.leader.Leadership;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.quarkus.grpc.RegisterInterceptor;

/** spillway.agent.v1.AgentService over gRPC: adapts each stream to the agent protocol in {@link AgentConnections}. */
@GrpcService
@RegisterInterceptor(AgentAuthInterceptor.class)
public class AgentGrpcService extends AgentServiceGrpc.AgentServiceImplBase {

    private final AgentConnections connections;

    private final Leadership leadership;

    public AgentGrpcService(AgentConnections connections, Leadership leadership) {
        this.connections = connections;
        this.leadership = leadership;
    }

    /**
     * Inbound messages of one stream the broker holds at most (received, not yet handled). Beyond
     * that, gRPC flow control holds the agent's messages back on the agent's side, so a slow
     * database never lets one agent's messages pile up in the broker's memory.
     */
    static final int INBOUND_WINDOW = 64;

    @Override
    public StreamObserver<ConnectRequest> connect(StreamObserver<ConnectResponse> out) {
        ServerCallStreamObserver<ConnectResponse> call = (ServerCallStreamObserver<ConnectResponse>) out;
        if (!leadership.isLeader()) {
            // Agents stream to the leader only: a follower sends them there.
            String leader = leadership.leaderAddress().orElse(null);
            call.onError(Status.UNAVAILABLE.withDescription("this broker (" + leadership.id() + ") does not lead"
                    + (leader == null ? "; no leader is known yet: try again" : "; the leader is at " + leader))
                    .asRuntimeException(LeaderRedirect.trailers(leader)));
            return new StreamObserver<>() {
                @Override
                public void onNext(ConnectRequest value) {
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                }
            };
        }
        call.disableAutoRequest();
        call.request(INBOUND_WINDOW);
        AgentConnections.Connection connection = connections.open(new StreamLink(call, AgentAuthInterceptor.REMOTE.get()),
                AgentAuthInterceptor.PRESENTED.get());
        return new StreamObserver<>() {
            @Override
            public void onNext(ConnectRequest message) {
                connection.onMessage(message);
            }

            @Override
            public void onError(Throwable t) {
                connection.onBroken(Status.fromThrowable(t).getCode().toString());
            }

            @Override
            public void onCompleted() {
                connection.onCompleted();
            }
        };
    }

    /** One agent stream as an {@link AgentLink}. */
    private record StreamLink(ServerCallStreamObserver<ConnectResponse> out, String remote) implements AgentLink {

        @Override
        public void handled() {
            out.request(1);
        }

        @Override
        public boolean send(ConnectResponse message) {
            out.onNext(message);
            return true;
        }

        @Override
        public void close(CloseReason reason, String message) {
            Status status = switch (reason) {
                case PROTOCOL -> Status.FAILED_PRECONDITION;
                case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
                case NOT_PERMITTED -> Status.PERMISSION_DENIED;
                case NAME_IN_USE -> Status.ALREADY_EXISTS;
                case REPLACED -> Status.ABORTED;
                case LEASE_EXPIRED -> Status.DEADLINE_EXCEEDED;
                case UNAVAILABLE -> Status.UNAVAILABLE;
            };
            out.onError(status.withDescription(message).asRuntimeException());
        }

        @Override
        public void redirect(String leaderAddress, String message) {
            out.onError(Status.UNAVAILABLE.withDescription(message).asRuntimeException(LeaderRedirect.trailers(leaderAddress)));
        }

        @Override
        public void complete() {
            out.onCompleted();
        }
    }
}
