package dev.spillway.broker.agent;

import dev.spillway.api.v1.AgentServiceGrpc;
import dev.spillway.api.v1.AttemptStatus;
import dev.spillway.api.v1.ConnectRequest;
import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.api.v1.Kill;
import dev.spillway.api.v1.Register;
import dev.spillway.api.v1.Registered;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.jobs.JobCatalog;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.broker.store.TaskStore;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.task.AttemptOutcome;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.grpc.GrpcService;
import io.quarkus.grpc.RegisterInterceptor;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.jboss.logging.Logger;

/**
 * The agent end of the protocol: one bidirectional stream per agent. Messages of one stream are
 * handled strictly in order (each waits for the previous one's writes), so an exit is never
 * processed before the start it follows.
 */
@GrpcService
@RegisterInterceptor(AgentAuthInterceptor.class)
public class AgentGrpcService extends AgentServiceGrpc.AgentServiceImplBase {

    private static final Logger LOG = Logger.getLogger(AgentGrpcService.class);

    private final AgentSessions sessions;
    private final NodeStore nodes;
    private final TaskStore tasks;
    private final JobCatalog jobs;
    private final LogRouter logs;
    private final SchedulerWakeup scheduler;
    private final BrokerConfig config;
    private final dev.spillway.broker.cluster.NodeShapes shapes;
    private final AgentCredentials credentials;
    private final Counter staleReports;
    private final Counter reports;

    public AgentGrpcService(AgentSessions sessions, NodeStore nodes, TaskStore tasks, JobCatalog jobs, LogRouter logs,
                            SchedulerWakeup scheduler, BrokerConfig config, MeterRegistry registry,
                            dev.spillway.broker.cluster.NodeShapes shapes, AgentCredentials credentials) {
        this.shapes = shapes;
        this.credentials = credentials;
        this.sessions = sessions;
        this.nodes = nodes;
        this.tasks = tasks;
        this.jobs = jobs;
        this.logs = logs;
        this.scheduler = scheduler;
        this.config = config;
        this.staleReports = Counter.builder("spillway_agent_reports_refused").tag("reason", "stale_attempt")
                .description("Attempt reports refused because the attempt is no longer current").register(registry);
        this.reports = Counter.builder("spillway_agent_attempt_reports").description("Attempt state reports received").register(registry);
    }

    @Override
    public StreamObserver<ConnectRequest> connect(StreamObserver<ConnectResponse> out) {
        return new Connection(out, AgentAuthInterceptor.PRESENTED.get());
    }

    /** A registration accepted: the node's id, and a fresh credential when it joined with a join token. */
    private record Admitted(UUID nodeId, String credential) {
    }

    private final class Connection implements StreamObserver<ConnectRequest> {
        private final StreamObserver<ConnectResponse> out;
        private AgentSession session;
        /** Attempts this connection has already recorded as started (reports repeat running attempts). */
        private final Set<String> started = new HashSet<>();
        private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
        private final AgentAuthInterceptor.Presented credential;

        Connection(StreamObserver<ConnectResponse> out, AgentAuthInterceptor.Presented credential) {
            this.out = out;
            this.credential = credential;
        }

        @Override
        public void onNext(ConnectRequest message) {
            if (session != null) sessions.heard(session.node());
            // Chain onto the previous message's work; run the DB work off the gRPC thread.
            tail = tail.thenCompose(v -> handle(message).emitOn(Infrastructure.getDefaultExecutor())
                    .subscribeAsCompletionStage()
                    .exceptionally(e -> {
                        LOG.errorf(e, "failed to handle a message from %s", session == null ? "an unregistered agent" : session.node());
                        return null;
                    }));
        }

        private Uni<Void> handle(ConnectRequest message) {
            switch (message.getPayloadCase()) {
                case REGISTER:
                    return register(message.getRegister());
                case REPORT:
                    if (session == null) return refuse("report before register");
                    Uni<Void> drainChange = Uni.createFrom().voidItem();
                    if (session.draining() != message.getReport().getDraining()) {
                        session.draining(message.getReport().getDraining());
                        LOG.infof("node %s is %s", session.node(), session.draining() ? "draining" : "taking work again");
                        drainChange = nodes.setState(session.node(), session.draining() ? "DRAINING" : "READY");
                    }
                    return drainChange.flatMap(v -> handleAttempts(message.getReport().getAttemptsList()));
                case LOG_CHUNK:
                    logs.deliver(message.getLogChunk());
                    return Uni.createFrom().voidItem();
                default:
                    return refuse("empty message");
            }
        }

        private Uni<Void> refuse(String why) {
            out.onError(Status.FAILED_PRECONDITION.withDescription(why).asRuntimeException());
            return Uni.createFrom().voidItem();
        }

        private Uni<Void> register(Register r) {
            if (session != null) return refuse("register sent twice");
            if (r.getNodeName().isBlank() || r.getPool().isBlank() || r.getCapacity().getCpuMillis() <= 0
                    || r.getCapacity().getMemoryMib() <= 0) {
                return refuse("register needs a node name, a pool and positive cpu and memory");
            }
            return authorize(r).flatMap(refusal -> {
                if (refusal != null) {
                    LOG.warnf("refused node %s: %s", r.getNodeName(), refusal);
                    out.onError(Status.UNAUTHENTICATED.withDescription(refusal).asRuntimeException());
                    return Uni.createFrom().voidItem();
                }
                return admit(r);
            });
        }

        /** Null when the presented credential lets this node register; otherwise why not. */
        private Uni<String> authorize(Register r) {
            if (credential == null) return Uni.createFrom().item("no credential");
            return switch (credential.kind()) {
                case SHARED -> Uni.createFrom().nullItem();
                case JOIN -> credentials.spendJoinToken(credential.secret(), r.getNodeName(), r.getPool());
                case NODE -> credentials.checkNodeCredential(credential.secret(), r.getNodeName())
                        .map(ok -> ok ? null : "node credential does not belong to node " + r.getNodeName());
            };
        }

        private Uni<Void> admit(Register r) {
            Resources capacity = new Resources(r.getCapacity().getCpuMillis(), r.getCapacity().getMemoryMib(), r.getCapacity().getGpus());
            String kind = config.pools().containsKey(r.getPool()) ? config.pools().get(r.getPool()).kind() : "on-prem";
            AgentSession s = new AgentSession(r.getNodeName(), r.getPool(), capacity, r.getLabelsMap(), r.getDraining(), out);
            return nodes.register(r.getNodeName(), r.getPool(), kind, capacity, r.getLabelsMap(), r.getAgentVersion(), r.getDraining())
                    .flatMap(nodeId -> credential.kind() == AgentAuthInterceptor.Presented.Kind.JOIN
                            ? credentials.issueNodeCredential(r.getNodeName()).map(c -> new Admitted(nodeId, c))
                            : Uni.createFrom().item(new Admitted(nodeId, "")))
                    .flatMap(admitted -> {
                        UUID nodeId = admitted.nodeId();
                        shapes.invalidate();
                        session = s;
                        sessions.attach(s);
                        s.send(ConnectResponse.newBuilder().setRegistered(Registered.newBuilder()
                                .setNodeId(nodeId.toString())
                                .setHeartbeatIntervalMillis((int) config.agents().heartbeatInterval().toMillis())
                                .setLeaseMillis((int) config.agents().lease().toMillis())
                                .setNodeCredential(admitted.credential())).build());
                        LOG.infof("node %s joined pool %s with %s (%d attempts reported)", r.getNodeName(), r.getPool(), capacity,
                                r.getAttemptsCount());
                        Set<String> reported = new HashSet<>();
                        for (AttemptStatus a : r.getAttemptsList()) {
                            reported.add(TaskStore.attemptKey(UUID.fromString(a.getJobId()), a.getTaskIndex(), a.getAttempt()));
                        }
                        return handleAttempts(r.getAttemptsList())
                                .flatMap(v -> reconcile(s, reported));
                    })
                    .invoke(scheduler::wake);
        }

        /**
         * After a (re)connect, compare what the store says this node holds with what the agent
         * reported: assignments it never received are sent again; attempts it no longer runs
         * (it restarted) are treated as lost.
         */
        private Uni<Void> reconcile(AgentSession s, Set<String> reported) {
            return tasks.onNode(s.node()).flatMap(held -> {
                List<TaskStore.OnNode> resend = new ArrayList<>();
                List<TaskStore.OnNode> gone = new ArrayList<>();
                for (TaskStore.OnNode t : held) {
                    if (reported.contains(TaskStore.attemptKey(t.jobId(), t.index(), t.attempt()))) continue;
                    (t.state().equals("ASSIGNED") ? resend : gone).add(t);
                }
                Instant now = Instant.now();
                Uni<Void> lost = Uni.createFrom().voidItem();
                for (TaskStore.OnNode t : gone) {
                    lost = lost.flatMap(v -> tasks.ended(t.jobId(), t.index(), t.attempt(), s.node(),
                            new AttemptOutcome.NodeLost(s.node()), null, TaskStore.Usage.NONE, now).replaceWithVoid());
                }
                if (resend.isEmpty()) return lost;
                return lost.flatMap(v -> Uni.createFrom()
                        .item(() -> jobs.getAll(resend.stream().map(TaskStore.OnNode::jobId).toList()))
                        .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                        .invoke(catalog -> resend.forEach(t ->
                                s.send(AssignMessages.assign(t.jobId(), catalog.get(t.jobId()).spec(), t.index(), t.attempt()))))
                        .replaceWithVoid());
            });
        }

        private Uni<Void> handleAttempts(List<AttemptStatus> attempts) {
            Uni<Void> chain = Uni.createFrom().voidItem();
            for (AttemptStatus a : attempts) chain = chain.flatMap(v -> handleAttempt(a));
            return chain;
        }

        private Uni<Void> handleAttempt(AttemptStatus a) {
            UUID jobId;
            try {
                jobId = UUID.fromString(a.getJobId());
            } catch (IllegalArgumentException e) {
                staleReports.increment();
                return Uni.createFrom().voidItem();
            }
            String node = session.node();
            String key = TaskStore.attemptKey(jobId, a.getTaskIndex(), a.getAttempt());
            Instant now = Instant.now();
            switch (a.getState()) {
                case ATTEMPT_STATE_RUNNING: {
                    if (started.contains(key)) return Uni.createFrom().voidItem();
                    reports.increment();
                    Instant at = a.hasStartTime() ? Instant.ofEpochSecond(a.getStartTime().getSeconds(), a.getStartTime().getNanos()) : now;
                    return tasks.started(jobId, a.getTaskIndex(), a.getAttempt(), node, at)
                            .flatMap(ok -> ok ? Uni.createFrom().item(true) : tasks.isLive(jobId, a.getTaskIndex(), a.getAttempt(), node))
                            .invoke(live -> {
                                if (live) {
                                    started.add(key);
                                } else {
                                    // Cancelled or re-placed while the agent was away: stop the stray process.
                                    staleReports.increment();
                                    session.send(ConnectResponse.newBuilder().setKill(Kill.newBuilder().setJobId(a.getJobId())
                                            .setTaskIndex(a.getTaskIndex()).setAttempt(a.getAttempt())
                                            .setReason("attempt is no longer current")).build());
                                }
                            })
                            .replaceWithVoid();
                }
                case ATTEMPT_STATE_EXITED:
                case ATTEMPT_STATE_KILLED:
                case ATTEMPT_STATE_START_FAILED:
                case ATTEMPT_STATE_HANDED_BACK: {
                    reports.increment();
                    started.remove(key);
                    AttemptOutcome outcome = switch (a.getState()) {
                        case ATTEMPT_STATE_START_FAILED -> new AttemptOutcome.StartFailed(a.getMessage());
                        case ATTEMPT_STATE_HANDED_BACK -> new AttemptOutcome.HandedBack(node);
                        default -> new AttemptOutcome.Exited(a.getExitCode());
                    };
                    Integer exit = a.getState() == dev.spillway.api.v1.AttemptState.ATTEMPT_STATE_EXITED
                            || a.getState() == dev.spillway.api.v1.AttemptState.ATTEMPT_STATE_KILLED ? a.getExitCode() : null;
                    return tasks.ended(jobId, a.getTaskIndex(), a.getAttempt(), node, outcome, exit,
                                    new TaskStore.Usage(a.getCpuTimeMillis(), a.getPeakMemoryMib()), now)
                            .invoke(ended -> {
                                if (ended == null) {
                                    staleReports.increment();
                                    LOG.debugf("refused a report of %s from %s: not the current attempt", key, node);
                                } else {
                                    scheduler.wake();
                                }
                            })
                            .replaceWithVoid();
                }
                default:
                    return Uni.createFrom().voidItem();
            }
        }

        @Override
        public void onError(Throwable t) {
            closed("stream broke: " + Status.fromThrowable(t).getCode());
        }

        @Override
        public void onCompleted() {
            closed("agent closed the stream");
            AgentSession s = session;
            if (s != null) {
                // A clean goodbye: if the node holds nothing, it is simply gone, not lost.
                tail = tail.thenCompose(v -> tasks.onNode(s.node())
                        .flatMap(held -> held.isEmpty() && sessions.get(s.node()) == null
                                ? nodes.setState(s.node(), "DISCONNECTED") : Uni.createFrom().voidItem())
                        .subscribeAsCompletionStage().exceptionally(e -> null));
            }
            try {
                out.onCompleted();
            } catch (RuntimeException ignored) {
                // already closed
            }
        }

        private void closed(String why) {
            AgentSession s = session;
            if (s == null) return;
            sessions.detach(s);
            LOG.infof("node %s disconnected (%s); unless it said goodbye with nothing running, it is declared lost if it does not return within %d s",
                    s.node(), why, config.agents().lease().toSeconds());
        }
    }
}
