package dev.spillway.agent;

import dev.spillway.api.LeaderRedirect;
import dev.spillway.api.agent.v1.AgentServiceGrpc;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Registered;
import dev.spillway.api.agent.v1.Report;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongUnaryOperator;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * This node's one stream to the broker ({@code AgentService.Connect}). Connects, registers, and
 * when the stream ends reconnects with capped exponential backoff, until {@link #close()}d.
 * With several brokers (a comma-separated list, or one name that leads to any of them), only the
 * leader takes the stream: another broker refuses it naming the leader
 * ({@link LeaderRedirect}), and the agent connects there next, verifying the broker's certificate
 * against the name it was given; when the leader cannot be reached it tries its brokers in turn.
 * Authenticates with the best credential it has and, once the broker hands the node its own
 * credential (after a one-time join token is spent), keeps it in the {@link NodeCredentialFile}
 * and uses only that. Beats at the interval the broker asked for at registration: each beat is
 * a {@link Report}, so the node's reports double as its heartbeat.
 */
final class BrokerConnection {

    private static final Logger LOG = Logger.getLogger(BrokerConnection.class.getName());
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    /** The brokers the agent was given, host:port each; tried in turn. */
    private final List<String> targets;
    private final BrokerTrust trust;
    private final ClientInterceptor authorization;
    /** One channel per address the agent has connected to (and name it verified there): its brokers, and a leader it was sent to. */
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    private int targetIndex;
    /** Where a broker that does not lead said the leader is: the next connection goes there. */
    private volatile String redirectTo;
    /** When (monotonic) a broker last refused the stream because it does not lead; 0 if none has. */
    private volatile long brokerAnsweredNanos;
    /** The address of the current (or last) connection. */
    private volatile String target;
    private final NodeCredentialFile credentialFile;
    private final Supplier<Register> registration;
    private final Supplier<Report> heartbeat;
    private final Consumer<ConnectResponse> onMessage;
    /**
     * Credentials to try, best first: a node credential from an earlier join, then the token the
     * agent was started with (shared agent token or one-time join token). A refused one is dropped.
     */
    private final Deque<String> credentials = new ConcurrentLinkedDeque<>();
    private final Object sendLock = new Object();
    private final Object readiness = new Object();
    private volatile StreamObserver<ConnectRequest> stream;
    private volatile boolean stopping;
    private volatile long heartbeatMillis = 2000;
    private volatile long lastHeartbeat;

    /**
     * @param target       the broker, host:port, or several, comma-separated
     * @param trust        how the broker is reached: TLS verifying its certificate, or plaintext explicitly
     * @param token        the token the agent was started with
     * @param registration what the node says at each (re)connection: capacity, labels, the attempts
     *                     it knows of, whether it drains
     * @param heartbeat    the report sent at each beat: running attempts, whether it drains
     * @param onMessage    the broker's messages other than {@link Registered}, which is handled here
     */
    BrokerConnection(String target, BrokerTrust trust, String token, NodeCredentialFile credentialFile, Supplier<Register> registration,
                     Supplier<Report> heartbeat, Consumer<ConnectResponse> onMessage) {
        this.targets = java.util.Arrays.stream(target.split(",")).map(String::trim).filter(t -> !t.isEmpty()).toList();
        if (targets.isEmpty()) throw new IllegalArgumentException("no broker address given");
        this.target = targets.get(0);
        this.trust = trust;
        this.credentialFile = credentialFile;
        this.registration = registration;
        this.heartbeat = heartbeat;
        this.onMessage = onMessage;
        credentialFile.read().ifPresent(credentials::add);
        if (token != null && !token.isBlank()) credentials.add(token);
        if (trust.tls()) LOG.info(() -> "connecting to " + target + " over " + trust.describe());
        else LOG.warning("connecting to " + target + " in " + trust.describe());
        this.authorization = new ClientInterceptor() {
                    @Override
                    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                            @Override
                            public void start(Listener<R> listener, Metadata headers) {
                                headers.put(AUTHORIZATION, "Bearer " + credentials.peekFirst());
                                super.start(listener, headers);
                            }
                        };
                    }
                };
    }

    /**
     * The channel to {@code address}. A leader the agent was sent to is reached at its own address
     * but verified as the broker the agent was given ({@code authority}): its certificate must hold
     * that name. Pings every 5 s find a broker that stopped answering (a frozen process, a cut
     * network) within 10 s, so that the agent goes to the next leader.
     */
    private ManagedChannel channel(String address, String authority) {
        return channels.computeIfAbsent(authority == null ? address : address + " as " + authority, key -> {
            NettyChannelBuilder b = NettyChannelBuilder.forTarget(address, trust.credentials())
                    .intercept(authorization)
                    .keepAliveTime(5, TimeUnit.SECONDS)
                    .keepAliveTimeout(5, TimeUnit.SECONDS)
                    .maxInboundMessageSize(16 * 1024 * 1024);
            if (authority != null) b.overrideAuthority(authority);
            return b.build();
        });
    }

    /** Connects and reconnects until {@link #close()}; returns when closed (or interrupted). */
    void run() {
        Backoff backoff = new Backoff(bound -> ThreadLocalRandom.current().nextLong(bound));
        // A broker that refused the stream because it does not lead is alive and cheap to ask again: a short, capped wait.
        Backoff redirected = new Backoff(bound -> ThreadLocalRandom.current().nextLong(bound), Backoff.FIRST_MILLIS, 2_000);
        while (!stopping) {
            CountDownLatch ended = new CountDownLatch(1);
            boolean[] registered = {false};
            long[] registeredAtNanos = {0};
            boolean[] notLeader = {false};
            try {
                connect(ended, registered, registeredAtNanos, notLeader);
                ended.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (stopping) break;
            long registeredMillis = registered[0] ? (System.nanoTime() - registeredAtNanos[0]) / 1_000_000 : -1;
            if (registeredMillis >= Backoff.STABLE_MILLIS) redirected.reset();
            if (notLeader[0]) brokerAnsweredNanos = System.nanoTime();
            // A broker answered lately (a failover is under way: one broker is gone, another will lead within a lease): the
            // next leader is looked for with the short waits, not the long backoff meant for brokers that are all down.
            boolean failingOver = brokerAnsweredNanos != 0 && System.nanoTime() - brokerAnsweredNanos < TimeUnit.SECONDS.toNanos(60);
            long wait;
            if (notLeader[0] && redirectTo != null && redirected.fresh()) {
                wait = 0; // sent to the leader: go at once (a broker passing it around again waits)
            } else if (notLeader[0] || failingOver) {
                wait = redirected.next(registeredMillis);
            } else {
                redirected.reset();
                wait = backoff.next(registeredMillis);
            }
            if (registered[0]) LOG.info(() -> "reconnecting to " + target + " (retrying with backoff up to 10 s)");
            try {
                Thread.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void connect(CountDownLatch ended, boolean[] registered, long[] registeredAtNanos, boolean[] notLeader) {
        String leader = redirectTo;
        redirectTo = null;
        String configured = targets.get(targetIndex);
        String address = leader != null ? leader : configured;
        target = address;
        AgentServiceGrpc.AgentServiceStub stub = AgentServiceGrpc.newStub(
                channel(address, leader != null && !leader.equals(configured) ? authorityOf(configured) : null));
        Register register = registration.get();
        StreamObserver<ConnectRequest> requests = stub.connect(new ClientResponseObserver<ConnectRequest, ConnectResponse>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<ConnectRequest> call) {
                // Messages are small and infrequent, except log chunks, which wait for readiness (sendWhenReady).
                call.setOnReadyHandler(() -> {
                    synchronized (readiness) {
                        readiness.notifyAll();
                    }
                });
            }

            @Override
            public void onNext(ConnectResponse message) {
                if (message.hasRegistered()) {
                    registeredAtNanos[0] = System.nanoTime();
                    registered[0] = true;
                    registered(message.getRegistered(), register);
                } else {
                    onMessage.accept(message);
                }
            }

            @Override
            public void onError(Throwable t) {
                Status s = Status.fromThrowable(t);
                Metadata trailers = Status.trailersFromThrowable(t);
                String sentTo = LeaderRedirect.leader(trailers);
                if (s.getCode() == Status.Code.UNAVAILABLE && LeaderRedirect.notLeader(trailers)) {
                    // A broker that does not lead: go to the leader it names, or ask again shortly.
                    notLeader[0] = true;
                    redirectTo = sentTo;
                    LOG.log(registered[0] ? Level.INFO : Level.FINE, () -> "broker " + address + ": " + s.getDescription());
                    if (sentTo == null) nextTarget();
                    stream = null;
                    ended.countDown();
                    return;
                }
                // Not reachable, or the stream broke: the next connection tries the next broker the agent was given.
                if (s.getCode() == Status.Code.UNAVAILABLE || s.getCode() == Status.Code.DEADLINE_EXCEEDED) nextTarget();
                if (s.getCode() == Status.Code.UNAUTHENTICATED) {
                    LOG.severe("the broker refused this agent's credential: " + s.getDescription());
                    if (credentials.size() > 1) credentials.pollFirst(); // try the next one
                } else if (s.getCode() == Status.Code.PERMISSION_DENIED || s.getCode() == Status.Code.ALREADY_EXISTS) {
                    // The credential is good but the registration is not: say why at every attempt (it retries with backoff).
                    LOG.severe("the broker refused this node's registration: " + s.getDescription());
                } else if (!stopping && untrusted(t)) {
                    // A certificate problem does not go away by retrying: say so at every attempt.
                    LOG.severe("the broker at " + target + " is not trusted: " + s.getDescription() + " (" + rootMessage(t)
                            + "); pass --ca-file with the broker's CA (<data-dir>/tls/ca.pem)");
                } else if (!stopping) {
                    // Say it once per outage, not at every reconnect attempt.
                    Level level = registered[0] ? Level.WARNING : Level.FINE;
                    LOG.log(level, "stream to the broker ended: " + s.getCode() + (s.getDescription() == null ? "" : " " + s.getDescription()));
                }
                stream = null;
                ended.countDown();
            }

            @Override
            public void onCompleted() {
                stream = null;
                ended.countDown();
            }
        });
        synchronized (sendLock) {
            stream = requests;
            requests.onNext(ConnectRequest.newBuilder().setRegister(register).build());
        }
    }

    private synchronized void nextTarget() {
        targetIndex = (targetIndex + 1) % targets.size();
    }

    /** The host:port the agent verifies brokers as: the configured address, without any scheme. */
    private static String authorityOf(String address) {
        int scheme = address.indexOf("://");
        return scheme < 0 ? address : address.substring(scheme + 3);
    }

    private static boolean untrusted(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof javax.net.ssl.SSLHandshakeException || c instanceof java.security.cert.CertificateException) return true;
        }
        return false;
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) c = c.getCause();
        return c.getMessage();
    }

    private void registered(Registered registered, Register as) {
        heartbeatMillis = Math.max(100, registered.getHeartbeatInterval().getSeconds() * 1000 + registered.getHeartbeatInterval().getNanos() / 1_000_000);
        String credential = registered.getNodeCredential();
        if (!credential.isEmpty()) {
            // Joined with a one-time token: from now on reconnect with this node's own credential.
            credentials.clear();
            credentials.add(credential);
            try {
                credentialFile.write(credential);
            } catch (IOException e) {
                LOG.warning("cannot keep the node credential in " + credentialFile.path() + ": " + e.getMessage());
            }
        }
        LOG.info(() -> "registered with " + target + " as node " + as.getNodeName() + " (pool " + as.getPool() + ")");
    }

    /** Sends a heartbeat report if one is due, or at once if {@code now} (a draining node says so without delay). */
    void heartbeat(boolean now) {
        long millis = System.currentTimeMillis();
        if (millis - lastHeartbeat < heartbeatMillis && !now) return;
        lastHeartbeat = millis;
        send(ConnectRequest.newBuilder().setReport(heartbeat.get()).build());
    }

    /**
     * Sends a bulk message (a log chunk) once the stream can take it without buffering: gRPC flow
     * control, so a large log is read at the pace the broker reads it. False if the stream is down.
     */
    boolean sendWhenReady(ConnectRequest message) throws InterruptedException {
        while (true) {
            StreamObserver<ConnectRequest> s = stream;
            if (s == null) return false;
            if (!(s instanceof ClientCallStreamObserver<ConnectRequest> call) || call.isReady()) return send(message);
            synchronized (readiness) {
                readiness.wait(200); // woken by onReady; the bound re-checks a stream that went away meanwhile
            }
        }
    }

    /** Sends {@code message} if the stream is up; false if it is not (the message is dropped). */
    boolean send(ConnectRequest message) {
        synchronized (sendLock) {
            StreamObserver<ConnectRequest> s = stream;
            if (s == null) return false;
            try {
                s.onNext(message);
                return true;
            } catch (RuntimeException e) {
                return false;
            }
        }
    }

    /** Ends the stream (the broker sees a clean goodbye), stops reconnecting and closes the channel. */
    void close() {
        stopping = true;
        synchronized (sendLock) {
            StreamObserver<ConnectRequest> s = stream;
            if (s != null) {
                try {
                    s.onCompleted();
                } catch (RuntimeException ignored) {
                    // already broken
                }
            }
        }
        for (ManagedChannel channel : channels.values()) channel.shutdown();
        try {
            for (ManagedChannel channel : channels.values()) channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The wait before the next connection attempt: doubling from 250 ms up to 10 s while
     * connections fail or do not last, back to 250 ms only after one that stayed registered for
     * {@link #STABLE_MILLIS} (a broker that accepts and drops at once must not draw its agents into
     * a tight loop); a random point in the upper half of that, so that agents cut off together do
     * not come back together.
     */
    static final class Backoff {
        static final long FIRST_MILLIS = 250;
        static final long CAP_MILLIS = 10_000;
        /** A connection registered at least this long is a working one: the next outage starts over from {@link #FIRST_MILLIS}. */
        static final long STABLE_MILLIS = 30_000;

        /** bound → a random number in [0, bound). */
        private final LongUnaryOperator random;
        private final long first;
        private final long cap;
        private long millis;
        private boolean fresh = true;

        Backoff(LongUnaryOperator random) {
            this(random, FIRST_MILLIS, CAP_MILLIS);
        }

        Backoff(LongUnaryOperator random, long first, long cap) {
            this.random = random;
            this.first = first;
            this.cap = cap;
            this.millis = first;
        }

        /** Whether no wait was drawn since the last {@link #reset}. */
        boolean fresh() {
            boolean was = fresh;
            fresh = false;
            return was;
        }

        void reset() {
            millis = first;
            fresh = true;
        }

        /**
         * Milliseconds to wait after a connection that ended, having stayed registered for
         * {@code registeredMillis} (negative: it never registered).
         */
        long next(long registeredMillis) {
            fresh = false;
            millis = registeredMillis >= STABLE_MILLIS ? first : Math.min(millis * 2, cap);
            return millis / 2 + random.applyAsLong(millis / 2 + 1);
        }
    }
}
