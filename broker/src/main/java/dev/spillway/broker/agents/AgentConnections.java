package dev.spillway.broker.agents;

import dev.spillway.api.agent.v1.AttemptEndsRecorded;
import dev.spillway.api.agent.v1.AttemptRef;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Kill;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Registered;
import dev.spillway.broker.cluster.NodeShapes;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.store.JobCatalog;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.broker.store.TaskStore;
import dev.spillway.core.lifecycle.Leases;
import dev.spillway.core.lifecycle.NodeState;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.task.AttemptOutcome;
import dev.spillway.core.task.TaskState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;
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
    /** Ended attempts a connection remembers, to ignore heartbeats that were built before the end and arrive after it. */
    static final int ENDED_KEPT = 4096;
    private static final String ON_PREM = "on-prem";
    /** Node and pool names: what a join token can be minted for, and at most a host name's length. */
    private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?");

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
    private final dev.spillway.broker.security.CallerLimits limits;
    private final Audit audit;
    private final Clock clock;
    private final Counter staleReports;
    private final Counter reports;

    public AgentConnections(AgentSessions sessions, NodeStore nodes, TaskStore tasks, JobCatalog jobs, LogRouter logs,
                            SchedulerWakeup scheduler, BrokerConfig config, MeterRegistry registry, NodeShapes shapes,
                            AgentCredentials credentials, Audit audit, Clock clock,
                            AssignMessages assignments,
                            dev.spillway.broker.security.CallerLimits limits) {
        this.limits = limits;
        this.assignments = assignments;
        this.audit = audit;
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

    /** Whether a registration is let in: with what is fixed for its node, or refused (reason and why). */
    private record Decision(Provisioning provisioning, boolean replaceExisting, AgentLink.CloseReason reason, String refusal) {
        static Decision refused(AgentLink.CloseReason reason, String why) {
            return new Decision(null, false, reason, why);
        }
    }

    private static Resources capacityOf(Register r) {
        return new Resources(r.getCapacity().getCpuMillis(), r.getCapacity().getMemoryMib(), r.getCapacity().getGpus());
    }

    /** A pool's kind: as configured, else on-prem (pools agents name without configuration). */
    private String poolKind(String pool) {
        BrokerConfig.PoolSettings settings = config.pools().get(pool);
        return settings == null ? ON_PREM : settings.kind();
    }

    /** What the broker's configuration fixes for a node joining {@code pool} with the shared token: the pool's jurisdiction, if set. */
    private Provisioning sharedProvisioning(String pool) {
        BrokerConfig.PoolSettings settings = config.pools().get(pool);
        Map<String, String> labels = settings == null ? Map.of()
                : settings.jurisdiction().map(j -> Map.of(TaskShape.JURISDICTION_LABEL, j)).orElse(Map.of());
        return new Provisioning(pool, labels, null);
    }

    /** One agent's stream. */
    public final class Connection {
        private final AgentLink link;
        private final PresentedCredential credential;
        private volatile AgentSession session;
        /**
         * When this stream's latest message arrived. Before its registration is handled the stream has
         * no node yet; the arrival counts as the node heard once the registration's credential holds.
         */
        private volatile Leases.Heard lastArrival;
        /** Attempts this connection has already recorded as started (reports repeat running attempts). */
        private final Set<String> started = new HashSet<>();
        /**
         * Attempts whose end this connection handled, the latest {@link #ENDED_KEPT}: a heartbeat the
         * agent built while one still ran can arrive after its end, and says nothing new; an end it
         * repeats before our acknowledgement reached it is acknowledged again, not decided twice. (A
         * write that fails ends the stream, so an end in this set was decided in the database.)
         */
        private final Set<String> ended = java.util.Collections.newSetFromMap(new java.util.LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > ENDED_KEPT;
            }
        });
        private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
        /** Messages received and not yet taken by a {@link #drain}; guards {@link #drainQueued} too. */
        private final List<ConnectRequest> inbox = new ArrayList<>();
        /** A drain is in the chain and has not started: it takes whatever arrives until it does. */
        private boolean drainQueued;
        /** Set once a message could not be handled: the stream is being ended, later messages are ignored. */
        private volatile boolean failed;

        Connection(AgentLink link, PresentedCredential credential) {
            this.link = link;
            this.credential = credential;
        }

        public void onMessage(ConnectRequest message) {
            Leases.Heard arrived = sessions.now();
            lastArrival = arrived;
            AgentSession s = session;
            if (s != null) sessions.heard(s.node(), arrived);
            synchronized (inbox) {
                inbox.add(message);
                if (drainQueued) return;
                drainQueued = true;
            }
            // Chain onto the previous messages' work; run the DB work off the transport's thread.
            tail = tail.thenCompose(v -> drain());
        }

        /**
         * Handles every message that arrived since the last drain, in order. Reports next to each
         * other are handled as one ({@link #handleAttempts}): while the store commits one, the
         * agent's next reports queue up, and they are then written in one transaction.
         */
        private CompletableFuture<Void> drain() {
            List<ConnectRequest> batch;
            synchronized (inbox) {
                batch = new ArrayList<>(inbox);
                inbox.clear();
                drainQueued = false;
            }
            Uni<Void> work = Uni.createFrom().voidItem();
            for (int i = 0; i < batch.size(); ) {
                ConnectRequest first = batch.get(i);
                int end = i + 1;
                if (first.getPayloadCase() == ConnectRequest.PayloadCase.REPORT) {
                    while (end < batch.size() && batch.get(end).getPayloadCase() == ConnectRequest.PayloadCase.REPORT) end++;
                }
                List<ConnectRequest> run = batch.subList(i, end);
                work = work.flatMap(x -> failed ? Uni.createFrom().voidItem() : run.size() == 1 ? handle(first) : handleReports(run));
                i = end;
            }
            return work
                    .emitOn(Infrastructure.getDefaultExecutor())
                    .subscribeAsCompletionStage()
                    .exceptionally(e -> {
                        fail(e);
                        return null;
                    })
                    .whenComplete((x, e) -> batch.forEach(m -> link.handled()));
        }

        /**
         * The broker could not handle a message (its database failed): end the stream rather than
         * drop what the agent said. The agent reconnects and re-sends every attempt end the broker
         * has not acknowledged; nothing later on this stream is handled.
         */
        private void fail(Throwable e) {
            if (failed) return;
            failed = true;
            String node = session == null ? "an unregistered agent" : session.node();
            LOG.errorf("could not handle a message from %s (%s); ending its stream so that it reconnects and re-sends", node,
                    e.getMessage());
            LOG.debug("handling failed", e);
            closed("the broker could not record its message");
            link.close(AgentLink.CloseReason.UNAVAILABLE, "the broker could not record this message (" + e.getMessage()
                    + "); reconnect and send it again");
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

        /** Reports that queued up, as one: the last one's draining flag, every attempt of all of them in order. */
        private Uni<Void> handleReports(List<ConnectRequest> reports) {
            List<AttemptStatus> attempts = new ArrayList<>();
            for (ConnectRequest r : reports) attempts.addAll(r.getReport().getAttemptsList());
            ConnectRequest last = reports.get(reports.size() - 1);
            return handle(ConnectRequest.newBuilder(last).setReport(last.getReport().toBuilder().clearAttempts().addAllAttempts(attempts)).build());
        }

        private Uni<Void> refuse(String why) {
            link.close(AgentLink.CloseReason.PROTOCOL, why);
            return Uni.createFrom().voidItem();
        }

        private Uni<Void> register(Register r) {
            if (session != null) return refuse("register sent twice");
            if (!NODE_NAME.matcher(r.getNodeName()).matches() || !NODE_NAME.matcher(r.getPool()).matches()
                    || r.getCapacity().getCpuMillis() <= 0 || r.getCapacity().getMemoryMib() <= 0 || r.getCapacity().getGpus() < 0) {
                return refuse("register needs a node name and a pool (letters, digits, '.', '_', '-'), positive cpu and memory, no negative gpus");
            }
            String name = r.getNodeName();
            if (!sessions.claim(name, this)) {
                return refused(r, AgentLink.CloseReason.NAME_IN_USE, "another registration of node " + name + " is under way");
            }
            return decide(r)
                    .flatMap(d -> {
                        if (d.refusal() != null) return refused(r, d.reason(), d.refusal());
                        // Its credential holds: the node was heard when this registration arrived, and is not lost while it is stored.
                        sessions.admitting(name, this, lastArrival);
                        return admit(r, d);
                    })
                    .eventually(() -> sessions.release(name, this));
        }

        /**
         * Whether the presented credential lets this registration in, and with what fixed for the
         * node. Never evicts: a name with a live session is refused unless an operator minted a
         * re-provisioning token for it. Nothing is spent unless everything else holds.
         */
        private Uni<Decision> decide(Register r) {
            String name = r.getNodeName();
            Resources capacity = capacityOf(r);
            AgentSession current = sessions.get(name);
            boolean live = current != null;
            if (credential == null) return Uni.createFrom().item(Decision.refused(AgentLink.CloseReason.UNAUTHENTICATED, "no credential"));
            return switch (credential.kind()) {
                case SHARED -> {
                    String kind = poolKind(r.getPool());
                    if (!kind.equals(ON_PREM)) {
                        yield Uni.createFrom().item(Decision.refused(AgentLink.CloseReason.NOT_PERMITTED, "pool " + r.getPool() + " is of kind "
                                + kind + ": the shared agent token joins on-prem pools only; nodes of other pools join with a join token"));
                    }
                    Provisioning fixed = sharedProvisioning(r.getPool());
                    String outside = fixed.refusal(r.getPool(), r.getLabelsMap(), capacity);
                    if (outside != null) yield Uni.createFrom().item(Decision.refused(AgentLink.CloseReason.NOT_PERMITTED, outside));
                    if (live) yield Uni.createFrom().item(nameInUse(name));
                    yield nodes.hasCredential(name).map(has -> has
                            ? Decision.refused(AgentLink.CloseReason.NAME_IN_USE, "node " + name
                            + " has a node credential of its own (issued when it joined with a join token); the shared agent token cannot register it")
                            : new Decision(fixed, false, null, null));
                }
                case JOIN -> credentials.checkJoinToken(credential.secret(), name, r.getPool(), r.getLabelsMap(), capacity).flatMap(a -> {
                    if (a.refusal() != null) return Uni.createFrom().item(Decision.refused(a.reason(), a.refusal()));
                    if (live && !a.replaceExisting()) return Uni.createFrom().item(nameInUse(name));
                    return credentials.spendJoinToken(credential.secret(), name, r.getPool()).map(why -> why != null
                            ? Decision.refused(AgentLink.CloseReason.UNAUTHENTICATED, why)
                            : new Decision(a.provisioning(), a.replaceExisting(), null, null));
                });
                case NODE -> credentials.fixedFor(credential.secret(), name).map(fixed -> {
                    if (fixed == null) return Decision.refused(AgentLink.CloseReason.UNAUTHENTICATED, "node credential does not belong to node " + name);
                    String outside = fixed.refusal(r.getPool(), r.getLabelsMap(), capacity);
                    if (outside != null) return Decision.refused(AgentLink.CloseReason.NOT_PERMITTED, outside);
                    // The node itself, back while its old connection looks open: a restarted agent whose old TCP connection
                    // was never closed (a killed process, a dead machine, a partition). Let it in once that connection has
                    // missed two heartbeats; while it reports, it is live and nothing replaces it.
                    return live && !fellSilent(name) ? nameInUse(name) : new Decision(fixed, false, null, null);
                });
            };
        }

        /** Whether the node's open session has missed two heartbeats (a half-open connection, not a live node). */
        private boolean fellSilent(String name) {
            Duration silence = sessions.silence(name);
            return silence == null || silence.compareTo(config.agents().heartbeatInterval().multipliedBy(2)) > 0;
        }

        private Decision nameInUse(String name) {
            return Decision.refused(AgentLink.CloseReason.NAME_IN_USE, "node " + name + " is connected already; a registration never takes over"
                    + " a live node (re-provisioning the name takes a token minted with replace_existing)");
        }

        /**
         * Ends the stream with {@code why}, logged with the agent's address and written to the
         * audit log as {@code node.register-refused} (at most one a second per address after a
         * burst of 20: refusals beyond are not recorded again).
         */
        private Uni<Void> refused(Register r, AgentLink.CloseReason reason, String why) {
            String remote = link.remote();
            String kind = credential == null ? "none" : credential.kind().name().toLowerCase(java.util.Locale.ROOT);
            link.close(reason, why);
            if (!limits.admitRefusalRecord(remote)) return Uni.createFrom().voidItem(); // a flood: refused, not recorded again
            LOG.warnf("refused node %s from %s (%s credential): %s", r.getNodeName(), remote == null ? "an unknown address" : remote, kind, why);
            return audit.record("agent:" + r.getNodeName(), null, "node.register-refused", r.getNodeName(),
                            why + " (credential: " + kind + ", pool " + r.getPool() + ")", remote)
                    .onFailure().invoke(e -> LOG.errorf(e, "could not write the audit event of a refused registration of node %s", r.getNodeName()))
                    .onFailure().recoverWithNull();
        }

        private Uni<Void> admit(Register r, Decision d) {
            String name = r.getNodeName();
            Resources capacity = capacityOf(r);
            Map<String, String> labels = d.provisioning().labelsWith(r.getLabelsMap());
            NodeStore.Registration reg = new NodeStore.Registration(name, r.getPool(), poolKind(r.getPool()), capacity, labels,
                    r.getAgentVersion(), r.getDraining());
            Uni<Admitted> stored = switch (credential.kind()) {
                case JOIN -> {
                    AgentCredentials.NodeCredential issued = credentials.newNodeCredential();
                    yield nodes.join(reg, d.provisioning().labels(), d.provisioning().ceiling(), issued.hash(), d.replaceExisting())
                            .map(id -> id == null ? null : new Admitted(id, issued.secret()));
                }
                case NODE -> nodes.reconnect(reg, AgentCredentials.hash(credential.secret())).map(id -> id == null ? null : new Admitted(id, ""));
                case SHARED -> nodes.registerShared(reg, d.provisioning().labels()).map(id -> id == null ? null : new Admitted(id, ""));
            };
            AgentSession s = new AgentSession(name, r.getPool(), capacity, labels, r.getDraining(), link);
            return stored
                    .flatMap(admitted -> {
                        if (admitted == null) {
                            // The node's credential changed between the check and the write (revoked, or issued to another machine).
                            return refused(r, AgentLink.CloseReason.UNAUTHENTICATED, "node " + name + "'s credential changed meanwhile");
                        }
                        shapes.invalidate();
                        session = s;
                        sessions.attach(s, d.replaceExisting()
                                ? "node " + name + " was re-provisioned by an operator; this connection is replaced"
                                : "node " + name + " reconnected; this connection had fallen silent and is replaced");
                        s.send(ConnectResponse.newBuilder().setRegistered(Registered.newBuilder()
                                .setNodeId(admitted.nodeId().toString())
                                .setHeartbeatInterval(com.google.protobuf.util.Durations.fromMillis(config.agents().heartbeatInterval().toMillis()))
                                .setLease(com.google.protobuf.util.Durations.fromMillis(config.agents().lease().toMillis()))
                                .setNodeCredential(admitted.credential())).build());
                        LOG.infof("node %s joined pool %s with %s (%d attempts reported)%s", name, r.getPool(), capacity,
                                r.getAttemptsCount(), d.replaceExisting() ? ", re-provisioned by an operator's token" : "");
                        Set<String> reported = new HashSet<>();
                        for (AttemptStatus a : r.getAttemptsList()) {
                            reported.add(new TaskRef(a.getJobId(), a.getTaskIndex(), a.getAttempt()).key());
                        }
                        return handleAttempts(r.getAttemptsList()).flatMap(v -> reconcile(s, reported)).invoke(scheduler::wake);
                    });
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

        /**
         * Records attempt reports in one transaction ({@link TaskStore#report}), then acknowledges
         * in one message every attempt end among them that is now recorded (or refused for good as
         * stale). A failed write fails the whole report, and nothing of it is acknowledged: the
         * agent sends those ends again.
         */
        private Uni<Void> handleAttempts(List<AttemptStatus> attempts) {
            AttemptEndsRecorded.Builder recorded = AttemptEndsRecorded.newBuilder();
            String node = session.node();
            Instant now = clock.instant();
            List<TaskStore.StartReport> starts = new ArrayList<>();
            List<AttemptStatus> startedBy = new ArrayList<>();
            List<TaskStore.EndReport> ends = new ArrayList<>();
            List<AttemptStatus> endedBy = new ArrayList<>();
            Set<String> endingNow = new HashSet<>();
            for (AttemptStatus a : attempts) {
                UUID jobId;
                try {
                    jobId = UUID.fromString(a.getJobId());
                } catch (IllegalArgumentException e) {
                    staleReports.increment();
                    if (a.getState() != dev.spillway.api.agent.v1.AttemptState.ATTEMPT_STATE_RUNNING) recorded.addAttempts(ref(a)); // never a task's
                    continue;
                }
                String key = new TaskRef(a.getJobId(), a.getTaskIndex(), a.getAttempt()).key();
                switch (a.getState()) {
                    case ATTEMPT_STATE_RUNNING -> {
                        if (started.contains(key) || ended.contains(key)) continue;
                        reports.increment();
                        Instant at = a.hasStartTime() ? Instant.ofEpochSecond(a.getStartTime().getSeconds(), a.getStartTime().getNanos()) : now;
                        starts.add(new TaskStore.StartReport(jobId, a.getTaskIndex(), a.getAttempt(), at));
                        startedBy.add(a);
                    }
                    case ATTEMPT_STATE_EXITED, ATTEMPT_STATE_KILLED, ATTEMPT_STATE_START_FAILED, ATTEMPT_STATE_HANDED_BACK, ATTEMPT_STATE_TIMED_OUT -> {
                        if (ended.contains(key)) {
                            // The agent re-sends an end until it is acknowledged; a heartbeat sent before our
                            // acknowledgement arrived repeats one this connection has already decided. Acknowledge
                            // it again, nothing more: it is neither news nor a stale attempt.
                            recorded.addAttempts(ref(a));
                            continue;
                        }
                        reports.increment();
                        started.remove(key);
                        ended.add(key);
                        endingNow.add(key);
                        AttemptOutcome outcome = switch (a.getState()) {
                            case ATTEMPT_STATE_START_FAILED -> new AttemptOutcome.StartFailed(a.getMessage());
                            case ATTEMPT_STATE_HANDED_BACK -> new AttemptOutcome.HandedBack(node);
                            case ATTEMPT_STATE_TIMED_OUT -> new AttemptOutcome.TimedOut(a.getMessage());
                            default -> new AttemptOutcome.Exited(a.getExitCode());
                        };
                        Integer exit = a.getState() == dev.spillway.api.agent.v1.AttemptState.ATTEMPT_STATE_EXITED
                                || a.getState() == dev.spillway.api.agent.v1.AttemptState.ATTEMPT_STATE_KILLED ? a.getExitCode() : null;
                        ends.add(new TaskStore.EndReport(jobId, a.getTaskIndex(), a.getAttempt(), outcome, exit,
                                new TaskStore.Usage(a.getCpuTimeMillis(), a.getPeakMemoryMib())));
                        endedBy.add(a);
                    }
                    default -> { }
                }
            }
            return tasks.report(node, starts, ends, now)
                    .flatMap(result -> {
                        boolean wake = false;
                        for (int i = 0; i < endedBy.size(); i++) {
                            recorded.addAttempts(ref(endedBy.get(i)));
                            if (result.ended().get(i) == null) {
                                staleReports.increment();
                                LOG.debugf("refused a report of an end of %s/%d/%d from %s: not the current attempt", endedBy.get(i).getJobId(),
                                        endedBy.get(i).getTaskIndex(), endedBy.get(i).getAttempt(), node);
                            } else {
                                wake = true;
                            }
                        }
                        if (wake) scheduler.wake();
                        // A start that was not recorded: either the task runs already (a report repeated after a reconnect),
                        // or the attempt is no longer current (cancelled or re-placed while the agent was away).
                        List<TaskStore.StartReport> unrecorded = new ArrayList<>();
                        List<AttemptStatus> unrecordedBy = new ArrayList<>();
                        for (int i = 0; i < startedBy.size(); i++) {
                            AttemptStatus a = startedBy.get(i);
                            String key = new TaskRef(a.getJobId(), a.getTaskIndex(), a.getAttempt()).key();
                            if (endingNow.contains(key)) continue;
                            if (result.started().get(i)) {
                                started.add(key);
                            } else {
                                unrecorded.add(starts.get(i));
                                unrecordedBy.add(a);
                            }
                        }
                        return tasks.live(node, unrecorded).invoke(live -> {
                            for (int i = 0; i < unrecordedBy.size(); i++) {
                                AttemptStatus a = unrecordedBy.get(i);
                                if (live.get(i)) {
                                    started.add(new TaskRef(a.getJobId(), a.getTaskIndex(), a.getAttempt()).key());
                                } else {
                                    staleReports.increment();
                                    session.send(ConnectResponse.newBuilder().setKill(Kill.newBuilder().setJobId(a.getJobId())
                                            .setTaskIndex(a.getTaskIndex()).setAttempt(a.getAttempt())
                                            .setReason("attempt is no longer current")).build());
                                }
                            }
                        }).replaceWithVoid();
                    })
                    .invoke(() -> {
                        if (recorded.getAttemptsCount() > 0) session.send(ConnectResponse.newBuilder().setEndsRecorded(recorded).build());
                    });
        }

        private static AttemptRef ref(AttemptStatus a) {
            return AttemptRef.newBuilder().setJobId(a.getJobId()).setTaskIndex(a.getTaskIndex()).setAttempt(a.getAttempt()).build();
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
