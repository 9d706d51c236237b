package dev.spillway.agent;

import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Report;
import dev.spillway.api.v1.Resources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The node agent: runs the attempts the broker assigns as OS processes and tells the broker how
 * they go. The pieces it is made of: the {@link BrokerConnection} (one stream, reconnecting,
 * registering this node, reports that double as heartbeats), the {@link NodeCredentialFile}, the
 * {@link LogServer} (attempts' output on request) and the {@link Drain} (leaving service cleanly).
 * What stays here is the node's attempts and what the broker's messages do to them.
 */
final class Agent {

    private static final Logger LOG = Logger.getLogger(Agent.class.getName());
    private static final Duration FINISHED_RETENTION = Duration.ofMinutes(10);
    private static final long KILL_GRACE_MILLIS = 5000;

    /**
     * {@code cgroupRoot}: {@code auto}, {@code none} or a cgroup directory, see {@link AttemptCgroups};
     * {@code keepAttempts}: see {@link AttemptRetention}; {@code maxLogBytes}: see {@link CappedLog}.
     */
    record Settings(String broker, String token, String name, String pool, long cpuMillis, long memoryMib, int gpus,
                    Map<String, String> labels, Path workDir, Drain.Mode drainMode, Duration drainTimeout, String version,
                    String cgroupRoot, Duration keepAttempts, long maxLogBytes) {
    }

    private final Settings settings;
    private final TaskUser taskUser;
    /** Where attempts get their own cgroup; null when they are contained by their process group only. */
    private final AttemptCgroups cgroups;
    /**
     * This node's attempts by {@link Attempt#key}: running ones, ended ones until the broker
     * acknowledges their end, and then for {@link #FINISHED_RETENTION}.
     */
    private final Map<String, Attempt> attempts = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(1, daemon("agent-timer"));
    private final ExecutorService workers = Executors.newCachedThreadPool(daemon("agent-worker"));
    private final BrokerConnection broker;
    private final LogServer logs;
    private final Drain drain;
    private volatile boolean draining;

    /**
     * @param taskUser who this node's task processes run as ({@code --run-as})
     * @param trust    how the broker is reached ({@code --ca-file}, {@code --insecure})
     */
    Agent(Settings settings, TaskUser taskUser, BrokerTrust trust) {
        this.settings = settings;
        this.taskUser = taskUser;
        AttemptCgroups.Opened opened = AttemptCgroups.open(settings.cgroupRoot(), settings.name(), settings.workDir());
        this.cgroups = opened.cgroups().orElse(null);
        if (cgroups != null) LOG.info(cgroups::describe);
        else LOG.warning("attempts are contained by their process group only (a process a task starts in a new session outlives "
                + "its attempt, and no memory or cpu limit applies): " + opened.why());
        this.broker = new BrokerConnection(settings.broker(), trust, settings.token(), NodeCredentialFile.in(settings.workDir()),
                this::registration, this::report, this::handle);
        this.logs = new LogServer(attemptsRoot(), settings.name(), attempts::get, broker::sendWhenReady, workers);
        this.drain = new Drain(attempts.values(), () -> {
            draining = true;
            heartbeat();
        }, () -> {
            broker.close();
            timer.shutdownNow();
            workers.shutdownNow();
            if (cgroups != null) cgroups.close();
        });
    }

    /** Connects and reconnects until drained; returns when stopped. */
    void run() {
        prepareAttemptsRoot();
        recoverUnrecordedEnds();
        timer.scheduleWithFixedDelay(this::heartbeat, 500, 500, TimeUnit.MILLISECONDS);
        timer.scheduleWithFixedDelay(this::housekeeping, 1, 1, TimeUnit.SECONDS);
        // Old attempt directories, those of an earlier run included: at start, then every minute (or keep/2, when shorter).
        long everyMillis = Math.max(1000, Math.min(60_000, settings.keepAttempts().toMillis() / 2));
        timer.scheduleWithFixedDelay(this::deleteOldAttempts, 0, everyMillis, TimeUnit.MILLISECONDS);
        broker.run();
    }

    /** Drains as configured ({@code --drain}, {@code --drain-timeout}). Called on SIGTERM. */
    void drainAndStop() {
        drainAndStop(settings.drainMode(), settings.drainTimeout(), "asked to stop");
    }

    /** See {@link Drain#run}: the first call drains, later ones wait for it. */
    void drainAndStop(Drain.Mode mode, Duration timeout, String why) {
        drain.run(mode, timeout, why);
    }

    private Path attemptsRoot() {
        return settings.workDir().resolve("attempts");
    }

    /**
     * The attempts root is the agent's, mode 0711: task users pass through to their own
     * directories but cannot list the others. Says who tasks run as, and what they could reach.
     */
    private void prepareAttemptsRoot() {
        Path root = attemptsRoot();
        try {
            Files.createDirectories(root);
            Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx--x--x"));
        } catch (IOException e) {
            LOG.warning("cannot prepare " + root + ": " + e.getMessage());
        }
        if (taskUser.sharesAgentUser()) {
            LOG.warning("tasks run as this agent's own user " + taskUser + ": they can read its token file, node credential and work "
                    + "directory. Run the agent as root, or give it CAP_SETUID and CAP_SETGID, and pass --run-as USER to keep them from tasks.");
        } else {
            LOG.info(() -> "tasks run as " + taskUser);
            if (!taskUser.canReach(root)) {
                LOG.warning("tasks run as " + taskUser + " cannot reach " + root + " by its path (a directory above it is closed to "
                        + "them): they still start in their working directory, but HOME and SPILLWAY_WORK_DIR will not resolve. "
                        + "Choose a --work-dir under directories others may pass through (e.g. /var/lib).");
            }
        }
    }

    /** What this node says at each (re)connection; attempts it already runs or ran are re-sent. */
    private Register registration() {
        Register.Builder register = Register.newBuilder()
                .setNodeName(settings.name())
                .setPool(settings.pool())
                .setCapacity(Resources.newBuilder().setCpuMillis(settings.cpuMillis()).setMemoryMib(settings.memoryMib()).setGpus(settings.gpus()))
                .putAllLabels(settings.labels())
                .setAgentVersion(settings.version())
                .setDraining(draining);
        for (Attempt a : attempts.values()) {
            if (running(a) || a.endUnrecorded()) register.addAttempts(a.status());
        }
        return register.build();
    }

    /**
     * The heartbeat: the attempts running now, every ended attempt whose end the broker has not
     * acknowledged yet (re-sent at each beat until it is), and whether the node drains.
     */
    private Report report() {
        Report.Builder report = Report.newBuilder().setDraining(draining);
        for (Attempt a : attempts.values()) {
            if (running(a) || a.endUnrecorded()) report.addAttempts(a.status());
        }
        return report.build();
    }

    private static boolean running(Attempt a) {
        return !a.finished() && a.status().getState() == AttemptState.ATTEMPT_STATE_RUNNING;
    }

    private void heartbeat() {
        broker.heartbeat(draining);
    }

    private void handle(ConnectResponse message) {
        switch (message.getPayloadCase()) {
            case ASSIGN -> assign(message.getAssign());
            case KILL -> {
                var k = message.getKill();
                Attempt a = attempts.get(Attempt.key(k.getJobId().toLowerCase(Locale.ROOT), k.getTaskIndex(), k.getAttempt()));
                if (a != null) workers.execute(() -> a.stop(AttemptState.ATTEMPT_STATE_KILLED, "killed: " + k.getReason(), KILL_GRACE_MILLIS));
            }
            case DRAIN -> {
                LOG.info(() -> "the broker asked this node to drain: " + message.getDrain().getReason());
                draining = true;
                heartbeat();
            }
            case LOG_REQUEST -> logs.handle(message.getLogRequest());
            case ENDS_RECORDED -> {
                for (var ref : message.getEndsRecorded().getAttemptsList()) {
                    Attempt a = attempts.get(Attempt.key(ref.getJobId().toLowerCase(Locale.ROOT), ref.getTaskIndex(), ref.getAttempt()));
                    if (a != null) a.endRecorded();
                }
            }
            default -> { }
        }
    }

    private void assign(Assign assign) {
        AttemptId id;
        try {
            id = AttemptId.verify(assign);
        } catch (IllegalArgumentException e) {
            // Nothing is created or started; the broker hears why.
            LOG.warning("refused an assignment from the broker: " + e.getMessage());
            broker.send(ConnectRequest.newBuilder().setReport(Report.newBuilder().setDraining(draining).addAttempts(AttemptStatus.newBuilder()
                    .setJobId(assign.getJobId()).setTaskIndex(assign.getTaskIndex()).setAttempt(assign.getAttempt())
                    .setState(AttemptState.ATTEMPT_STATE_START_FAILED).setExitCode(-1)
                    .setMessage("refused by the agent: " + e.getMessage()))).build());
            return;
        }
        String key = id.key();
        Attempt attempt = new Attempt(id, assign, attemptsRoot(), taskUser, cgroups, settings.maxLogBytes(), this::changed);
        if (attempts.putIfAbsent(key, attempt) != null) return; // a re-sent assignment we already have
        if (draining) {
            // Assigned while we were starting to drain: give it straight back (an end like any other, re-sent until acknowledged).
            attempt.endUnstarted(AttemptState.ATTEMPT_STATE_HANDED_BACK, "node is draining");
            return;
        }
        workers.execute(attempt::start);
        if (assign.hasMaxRuntime()) {
            java.time.Duration limit = java.time.Duration.ofSeconds(assign.getMaxRuntime().getSeconds(), assign.getMaxRuntime().getNanos());
            String why = "ran past its maxRuntime of " + limit.toString().substring(2).toLowerCase(Locale.ROOT) + "; killed";
            timer.schedule(() -> workers.execute(() -> attempt.stop(AttemptState.ATTEMPT_STATE_TIMED_OUT, why, KILL_GRACE_MILLIS)),
                    limit.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    private void changed(Attempt attempt) {
        broker.send(ConnectRequest.newBuilder().setReport(Report.newBuilder().setDraining(draining).addAttempts(attempt.status())).build());
    }

    /**
     * Ends kept in attempt directories by an earlier run of this agent and not acknowledged by
     * the broker: they are sent at the first registration and re-sent until acknowledged.
     */
    private void recoverUnrecordedEnds() {
        try {
            for (AttemptEndFile.Found f : AttemptEndFile.scan(attemptsRoot())) {
                if (f.recorded() || f.end().isEmpty()) continue;
                Attempt a = Attempt.ended(f.id(), f.end().get(), attemptsRoot(), taskUser, this::changed);
                if (attempts.putIfAbsent(a.key(), a) == null) {
                    LOG.info(() -> "re-sending the end of " + a.key() + " (" + a.status().getState() + "), kept from an earlier run");
                }
            }
        } catch (IOException e) {
            LOG.warning("cannot look for ends kept in " + attemptsRoot() + ": " + e.getMessage());
        }
    }

    private void housekeeping() {
        Instant cutoff = Instant.now().minus(FINISHED_RETENTION);
        // An end is forgotten only once the broker acknowledged it; until then it is re-sent.
        attempts.values().removeIf(a -> a.isEndRecorded() && a.endTime() != null && a.endTime().isBefore(cutoff));
        for (Attempt a : attempts.values()) {
            if (!a.finished()) a.sample();
        }
    }

    private void deleteOldAttempts() {
        Set<String> live = new HashSet<>();
        attempts.forEach((key, a) -> {
            if (!a.finished()) live.add(key);
        });
        int deleted = AttemptRetention.deleteExpired(attemptsRoot(), live, Instant.now(), settings.keepAttempts());
        if (deleted > 0) LOG.info(() -> "deleted " + deleted + " attempt director" + (deleted == 1 ? "y" : "ies") + " older than --keep-attempts "
                + settings.keepAttempts());
    }

    private static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            t.setUncaughtExceptionHandler((th, e) -> LOG.log(Level.SEVERE, "unexpected error in " + th.getName(), e));
            return t;
        };
    }
}
