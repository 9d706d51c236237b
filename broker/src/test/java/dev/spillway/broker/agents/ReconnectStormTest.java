package dev.spillway.broker.agents;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.agent.v1.AgentServiceGrpc;
import dev.spillway.api.agent.v1.Assign;
import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Report;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskTemplate;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * 500 agents holding running tasks lose their streams at once and come back with jittered
 * backoff: none is declared lost and no task runs again. Once as a plain drop (back within the
 * lease), once acted out as a broker restart (the broker forgets every node and begins its start
 * grace; agents come back over twice the lease).
 */
@QuarkusTest
class ReconnectStormTest {

    private static final int AGENTS = 500;
    /** Streams per channel: agents share a few connections (each stream is its own agent to the broker). */
    private static final int STREAMS_PER_CHANNEL = 25;
    private static final String RUN = UUID.randomUUID().toString().substring(0, 8);

    @TestHTTPResource
    URL url;

    @Inject
    ApiKeys keys;

    @Inject
    Pool pool;

    @Inject
    AgentSessions sessions;

    @Inject
    LeaseKeeper leases;

    @Inject
    Ticker ticker;

    @ConfigProperty(name = "spillway.agents.token")
    String agentToken;

    @ConfigProperty(name = "spillway.agents.lease")
    Duration lease;

    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<SimulatedAgent> agents = new ArrayList<>();
    private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(2, r -> {
        Thread t = new Thread(r, "simulated-agents");
        t.setDaemon(true);
        return t;
    });
    private final Random random = new Random(42);

    private UUID job;

    @AfterEach
    void stopAgents() {
        // Leave nothing running behind: every held attempt ends with exit 0, then every agent says goodbye and its node is gone.
        try {
            agents.forEach(SimulatedAgent::endAttempts);
            if (job != null) {
                await().atMost(Duration.ofSeconds(20)).until(() -> count("SELECT count(*) AS n FROM task WHERE job_id = $1 AND state = 'RUNNING'", job) == 0);
            }
            agents.forEach(SimulatedAgent::goodbye);
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> count("SELECT count(*) AS n FROM node WHERE name LIKE $1 AND state = 'READY'", "storm-" + RUN + "-%") == 0);
        } finally {
            timer.shutdownNow();
            channels.forEach(ManagedChannel::shutdownNow);
        }
    }

    @Test
    void fiveHundredAgentsDroppedAtOnceComeBackWithoutLosingATask() {
        for (int c = 0; c < (AGENTS + STREAMS_PER_CHANNEL - 1) / STREAMS_PER_CHANNEL; c++) channels.add(channel());
        for (int i = 0; i < AGENTS; i++) agents.add(new SimulatedAgent("storm-" + RUN + "-" + i, channels.get(i / STREAMS_PER_CHANNEL)));
        timer.scheduleWithFixedDelay(() -> agents.forEach(SimulatedAgent::heartbeat), 500, 500, TimeUnit.MILLISECONDS);

        // One agent first (admission wants a node the job's selector fits), then the job, then the 499 others.
        agents.get(0).connect();
        await().atMost(Duration.ofSeconds(15)).until(() -> agents.get(0).registrations.get() == 1);
        job = submitJob();
        agents.subList(1, AGENTS).forEach(SimulatedAgent::connect);
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                .until(() -> count("SELECT count(*) AS n FROM task WHERE job_id = $1 AND state = 'RUNNING'", job) == AGENTS);
        Map<Integer, String> placed = placements(job);
        assertThat(placed).hasSize(AGENTS);
        assertThat(placed.values()).as("one task per agent").doesNotHaveDuplicates();

        // A plain drop: every stream ends at once, the agents come back within the lease.
        dropAllAndReconnect(lease.toMillis() * 2 / 3, 2);
        assertNothingLost(job, placed);

        // A restart, acted out: the broker has heard nobody since "its start" and begins its start grace; the agents come back
        // over twice the lease (with a lease alone, a third of them would be declared lost).
        leases.startGrace();
        long restarted = ticker.nanos();
        agents.forEach(a -> sessions.forget(a.name, restarted));
        dropAllAndReconnect(lease.toMillis() * 2, 3);
        assertNothingLost(job, placed);

        assertThat(agents).allSatisfy(a -> {
            assertThat(a.kills.get()).as("kills sent to %s", a.name).isZero();
            assertThat(a.assignments.get()).as("assignments sent to %s", a.name).isEqualTo(1);
        });
    }

    /** Ends every agent's stream from the broker's side; each agent reconnects after a random delay up to {@code jitterMillis}. */
    private void dropAllAndReconnect(long jitterMillis, int expectedRegistrations) {
        agents.forEach(a -> a.reconnectWithin = jitterMillis);
        for (SimulatedAgent a : agents) {
            AgentSession s = sessions.get(a.name);
            assertThat(s).as("session of %s", a.name).isNotNull();
            s.close(AgentLink.CloseReason.UNAVAILABLE, "the broker is going away");
        }
        await().atMost(Duration.ofMillis(jitterMillis).plusSeconds(20)).pollInterval(Duration.ofMillis(200))
                .until(() -> agents.stream().allMatch(a -> a.registrations.get() == expectedRegistrations && sessions.get(a.name) != null));
    }

    /** For longer than a lease after the last agent came back: every node stays connected, every task runs its first placement. */
    private void assertNothingLost(UUID job, Map<Integer, String> placed) {
        await().during(lease.plusMillis(500)).atMost(lease.plusSeconds(10)).pollInterval(Duration.ofMillis(250))
                .until(() -> count("SELECT count(*) AS n FROM node WHERE name LIKE $1 AND state <> 'READY'", "storm-" + RUN + "-%") == 0);
        assertThat(placements(job)).as("same node, same attempt, still running").isEqualTo(placed);
        assertThat(count("SELECT count(*) AS n FROM task WHERE job_id = $1 AND (losses > 0 OR attempt <> 1)", job)).isZero();
    }

    /** Task index → "node/attempt" of the job's running tasks. */
    private Map<Integer, String> placements(UUID job) {
        Map<Integer, String> out = new HashMap<>();
        for (Row r : pool.preparedQuery("SELECT idx, node, attempt FROM task WHERE job_id = $1 AND state = 'RUNNING'").execute(Tuple.of(job))
                .await().atMost(Duration.ofSeconds(10))) {
            out.put(r.getInteger("idx"), r.getString("node") + "/" + r.getInteger("attempt"));
        }
        return out;
    }

    private long count(String sql, Object parameter) {
        return pool.preparedQuery(sql).execute(Tuple.of(parameter)).await().atMost(Duration.ofSeconds(10)).iterator().next().getLong("n");
    }

    private UUID submitJob() {
        String key = keys.create(Caller.of("test", Role.ADMIN, "default"), "default", Role.ADMIN.label(), null, "storm", null)
                .await().atMost(Duration.ofSeconds(10)).secret();
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
        ManagedChannel api = ManagedChannelBuilder.forAddress(url.getHost(), url.getPort()).usePlaintext()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(headers)).build();
        try {
            JobSpec spec = JobSpec.newBuilder().setName("storm").setTaskCount(AGENTS).setPriority(1000)
                    .setTask(TaskTemplate.newBuilder().addCommand("true").putNodeSelector("storm", RUN)
                            .setResources(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(128)))
                    .build();
            return UUID.fromString(JobServiceGrpc.newBlockingStub(api).submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid());
        } finally {
            api.shutdownNow();
        }
    }

    private ManagedChannel channel() {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + agentToken);
        return ManagedChannelBuilder.forAddress(url.getHost(), url.getPort()).usePlaintext()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(headers)).build();
    }

    /**
     * A lightweight agent on a shared channel: registers with the attempts it runs, runs whatever it
     * is assigned (it only says so), reports every 500 ms (the test heartbeat), and reconnects after a random delay when
     * its stream ends. It keeps counters, not messages.
     */
    private final class SimulatedAgent {
        final String name;
        final ManagedChannel channel;
        final AtomicInteger registrations = new AtomicInteger();
        final AtomicInteger assignments = new AtomicInteger();
        final AtomicInteger kills = new AtomicInteger();
        final Map<String, AttemptStatus> running = new ConcurrentHashMap<>();
        volatile long reconnectWithin;
        volatile boolean finishing;
        private volatile StreamObserver<ConnectRequest> stream;
        private volatile boolean registered;

        SimulatedAgent(String name, ManagedChannel channel) {
            this.name = name;
            this.channel = channel;
        }

        synchronized void connect() {
            registered = false;
            StreamObserver<ConnectRequest> s = AgentServiceGrpc.newStub(channel).connect(new StreamObserver<>() {
                @Override
                public void onNext(ConnectResponse m) {
                    switch (m.getPayloadCase()) {
                        case REGISTERED -> {
                            registered = true;
                            registrations.incrementAndGet();
                        }
                        case ASSIGN -> {
                            assignments.incrementAndGet();
                            Assign a = m.getAssign();
                            running.put(a.getJobId() + "/" + a.getTaskIndex() + "/" + a.getAttempt(), AttemptStatus.newBuilder()
                                    .setJobId(a.getJobId()).setTaskIndex(a.getTaskIndex()).setAttempt(a.getAttempt())
                                    .setState(AttemptState.ATTEMPT_STATE_RUNNING).build());
                            heartbeat();
                        }
                        case KILL -> kills.incrementAndGet();
                        default -> {
                        }
                    }
                }

                @Override
                public void onError(Throwable t) {
                    ended();
                }

                @Override
                public void onCompleted() {
                    ended();
                }
            });
            stream = s;
            send(s, ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(name).setPool("onprem").putLabels("storm", RUN)
                    .setCapacity(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(1024)).addAllAttempts(running.values())).build());
        }

        private void ended() {
            registered = false;
            stream = null;
            if (finishing) return;
            timer.schedule(this::connect, random(reconnectWithin), TimeUnit.MILLISECONDS);
        }

        void heartbeat() {
            StreamObserver<ConnectRequest> s = stream;
            if (s != null && registered) send(s, ConnectRequest.newBuilder().setReport(Report.newBuilder().addAllAttempts(running.values())).build());
        }

        /** Ends every running attempt with exit 0 and stops reconnecting. */
        void endAttempts() {
            finishing = true;
            StreamObserver<ConnectRequest> s = stream;
            List<AttemptStatus> ended = running.values().stream()
                    .map(a -> a.toBuilder().setState(AttemptState.ATTEMPT_STATE_EXITED).setExitCode(0).build()).toList();
            running.clear();
            if (s != null && !ended.isEmpty()) send(s, ConnectRequest.newBuilder().setReport(Report.newBuilder().addAllAttempts(ended)).build());
        }

        /** Closes the stream: with nothing running, the node is simply gone. */
        void goodbye() {
            StreamObserver<ConnectRequest> s = stream;
            if (s == null) return;
            synchronized (s) {
                try {
                    s.onCompleted();
                } catch (RuntimeException ignored) {
                    // the stream already ended
                }
            }
        }

        private void send(StreamObserver<ConnectRequest> s, ConnectRequest message) {
            synchronized (s) {
                try {
                    s.onNext(message);
                } catch (RuntimeException ignored) {
                    // the stream ended meanwhile; the agent reconnects
                }
            }
        }
    }

    private synchronized long random(long bound) {
        return bound <= 0 ? 0 : (long) (random.nextDouble() * bound);
    }
}
