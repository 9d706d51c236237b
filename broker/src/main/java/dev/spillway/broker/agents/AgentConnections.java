package dev.spillway.broker.agents;

import dev.spillway.api.v1.AttemptStatus;
import dev.spillway.api.v1.ConnectRequest;
import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.api.v1.Kill;
import dev.spillway.api.v1.Register;
import dev.spillway.api.v1.Registered;
import dev.spillway.broker.cluster.NodeShapes;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.broker.store.TaskStore;
import dev.spillway.core.lifecycle.NodeState;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.task.AttemptOutcome;
import dev.spillway.core.task.TaskState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.jboss.logging.Logger;

/**
 * The agent protocol: one stream per agent, its registration, its reports (which double as its
 * heartbeat) and their effect on tasks. Messages of one stream are handled strictly in order
 * (each waits for the previous one's writes), so an exit is never processed before the start it
 * follows.
 */
@ApplicationScoped
public class AgentConnections {

    private static final Logger LOG = Logger.getLogger(AgentConnections.class);

    private final AgentSessions sessions;
    private final NodeStore nodes;
    private final TaskStore tasks;
    private final JobCatalog jobs;
    private final LogRouter logs;
    private final SchedulerWakeup scheduler;
    private final BrokerConfig config;
    private final NodeShapes shapes;
    private final AgentCredentials credentials;
    private final AssignMessages assignments;
    private final Clock clock;
    private final Counter staleReports;
    private final Counter reports;

    public AgentConnections(AgentSessions sessions, NodeStore nodes, TaskStore tasks, JobCatalog jobs, LogRouter logs,
                            SchedulerWakeup scheduler, BrokerConfig config, MeterRegistry registry, NodeShapes shapes,
                            AgentCredentials credentials, Clock clock,
                            AssignMessages assignments) {
        this.assignments = assignments;
        this.sessions = sessions;
        this.nodes = nodes;
        this.tasks = tasks;
        this.jobs = jobs;
        this.logs = logs;
        this.scheduler = scheduler;
        this.config = config;
        this.shapes = shapes;
        this.credentials = credentials;
        this.clock = clock;
        this.staleReports = Counter.builder("spillway_agent_reports_refused").tag("reason", "stale_attempt")
                .description("Attempt reports refused because the attempt is no longer current").register(registry);
        this.reports = Counter.builder("spillway_agent_attempt_reports").description("Attempt state reports received").register(registry);
    }

    /** A new stream, opened with {@code credential} (already classified by the transport). */
    public Connection open(AgentLink link, PresentedCredential credential) {
        return new Connection(link, credential);
    }

    /** A registration accepted: the node's id, and a fresh credential when it joined with a join token. */
    private record Admitted(UUID nodeId, String credential) {
    }

    /** One agent's stream. */
    public final class Connection {
        private final AgentLink link;
        private final PresentedCredential credential;
        private AgentSession session;
        /** Attempts this connection has already recorded as started (reports repeat running attempts). */
        private final Set<String> started = new HashSet<>();
        private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);

        Connection(AgentLink link, PresentedCredential credential) {
            this.link = link;
            this.credential = credential;
        }

        public void onMessage(ConnectRequest message) {
            if (session != null) sessions.heard(session.node());
            // Chain onto the previous message's work; run the DB work off the transport's thread.
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
                        drainChange = nodes.setState(session.node(), session.draining() ? NodeState.DRAINING : NodeState.READY).replaceWithVoid();
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
            link.close(AgentLink.CloseReason.PROTOCOL, why);
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
                    link.close(AgentLink.CloseReason.UNAUTHENTICATED, refusal);
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
            AgentSession s = new AgentSession(r.getNodeName(), r.getPool(), capacity, r.getLabelsMap(), r.getDraining(), link);
            return nodes.register(r.getNodeName(), r.getPool(), kind, capacity, r.getLabelsMap(), r.getAgentVersion(), r.getDraining())
                    .flatMap(nodeId -> credential.kind() == PresentedCredential.Kind.JOIN
                            ? credentials.issueNodeCredential(r.getNodeName()).map(c -> new Admitted(nodeId, c))
                            : Uni.createFrom().item(new Admitted(nodeId, "")))
                    .flatMap(admitted -> {
                        shapes.invalidate();
                        session = s;
                        sessions.attach(s);
                        s.send(ConnectResponse.newBuilder().setRegistered(Registered.newBuilder()
                                .setNodeId(admitted.nodeId().toString())
                                .setHeartbeatIntervalMillis((int) config.agents().heartbeatInterval().toMillis())
                                .setLeaseMillis((int) config.agents().lease().toMillis())
                                .setNodeCredential(admitted.credential())).build());
                        LOG.infof("node %s joined pool %s with %s (%d attempts reported)", r.getNodeName(), r.getPool(), capacity,
                                r.getAttemptsCount());
                        Set<String> reported = new HashSet<>();
                        for (AttemptStatus a : r.getAttemptsList()) {
                            reported.add(new TaskRef(a.getJobId(), a.getTaskIndex(), a.getAttempt()).key());
                        }
                        return handleAttempts(r.getAttemptsList()).flatMap(v -> reconcile(s, reported));
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
                    if (reported.contains(new TaskRef(t.jobId().toString(), t.index(), t.attempt()).key())) continue;
                    (t.state() == TaskState.ASSIGNED ? resend : gone).add(t);
                }
                Instant now = clock.instant();
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
                                s.send(assignments.assign(t.jobId(), catalog.get(t.jobId()).spec(), t.index(), t.attempt()))))
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
            String key = new TaskRef(a.getJobId(), a.getTaskIndex(), a.getAttempt()).key();
            Instant now = clock.instant();
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

        /** The stream broke (network, agent killed). */
        public void onBroken(String why) {
            closed("stream broke: " + why);
        }

        /** The agent closed its stream. */
        public void onCompleted() {
            closed("agent closed the stream");
            AgentSession s = session;
            if (s != null) {
                // A clean goodbye: if the node holds nothing, it is simply gone, not lost.
                tail = tail.thenCompose(v -> tasks.onNode(s.node())
                        .flatMap(held -> held.isEmpty() && sessions.get(s.node()) == null
                                ? nodes.setState(s.node(), NodeState.DISCONNECTED).replaceWithVoid() : Uni.createFrom().voidItem())
                        .subscribeAsCompletionStage().exceptionally(e -> null));
            }
            try {
                link.complete();
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
