package dev.spillway.cli;

import dev.spillway.api.v1.CreateJoinTokenRequest;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.StopBurstingRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A broker and its agents as child processes of this JVM: what {@code spillway up} runs, and what
 * the end-to-end tests and the submit benchmark start. Every process is stopped by its own pid.
 */
public final class LocalCluster implements AutoCloseable {

    /** Where things are and how big the agents are. */
    public static final class Options {
        public Path home = Path.of(System.getProperty("spillway.home", "."));
        public Path dataDir = Path.of(System.getProperty("user.home"), ".spillway");
        public int port = 7070;
        public String bind = "127.0.0.1";
        public int agents = 2;
        public String pool = "onprem";
        public String agentCpu = "2";
        public String agentMemory = "4Gi";
        public String drain = "finish";
        public String drainTimeout = "30s";
        public Map<String, String> brokerProperties = new LinkedHashMap<>();
        /** Extra environment of the broker process. */
        public Map<String, String> brokerEnvironment = new LinkedHashMap<>();
        /** Pass -Dquarkus.log... etc.; null keeps the broker's own defaults. */
        public String brokerJvmOptions = "-Xmx1g";
        /** The broker process's name: its log is {@code <data-dir>/logs/<name>.log} (brokers that share a data directory differ by it). */
        public String brokerName = "broker";
        /** Plaintext instead of TLS between everything here (labs only; the broker warns at start). */
        public boolean insecure;
    }

    private final Options options;
    private final Path logDir;
    private Process broker;
    private final Map<String, Process> agents = new LinkedHashMap<>();

    public LocalCluster(Options options) {
        this.options = options;
        this.logDir = options.dataDir.resolve("logs");
    }

    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Options options() {
        return options;
    }

    public String brokerAddress() {
        return "127.0.0.1:" + options.port;
    }

    public Path dataDir() {
        return options.dataDir;
    }

    public Path logDir() {
        return logDir;
    }

    /** The admin API key the broker wrote into its data directory on first start. */
    public String adminKey() {
        return CallerToken.read(options.dataDir.resolve("admin-key"), "admin-key").secret();
    }

    /** A channel to the broker that calls as its admin (the key in the data directory). */
    public ManagedChannel channel() {
        return channel(adminKey());
    }

    /** A channel to the broker that presents {@code credential} (null: none) on every call. */
    public ManagedChannel channel(String credential) {
        return tls().nettyChannelBuilder(brokerAddress()).maxInboundMessageSize(64 * 1024 * 1024)
                .intercept(new CallerToken(credential, "local").interceptor()).build();
    }

    /**
     * How clients reach this broker: TLS trusting the CA it made in its data directory, or
     * plaintext when the options say insecure.
     */
    public BrokerTls tls() {
        return options.insecure ? BrokerTls.insecure() : BrokerTls.trusting(BrokerTls.caFileIn(options.dataDir));
    }

    /** Starts the broker, waits until it is healthy, then starts the agents. */
    public LocalCluster start() {
        startBroker();
        for (int i = 1; i <= options.agents; i++) startAgent("agent-" + i);
        return this;
    }

    public void startBroker() {
        Path jar = options.home.resolve("broker/target/quarkus-app/quarkus-run.jar");
        require(jar);
        List<String> cmd = new ArrayList<>();
        cmd.add(java());
        if (options.brokerJvmOptions != null) cmd.addAll(List.of(options.brokerJvmOptions.split(" ")));
        cmd.add("-Dspillway.data-dir=" + options.dataDir);
        cmd.add("-Dspillway.home=" + options.home.toAbsolutePath());
        cmd.add("-Dspillway.parent-pid=" + ProcessHandle.current().pid()); // the broker stops when this process ends
        cmd.add("-Dquarkus.http.port=" + options.port);
        cmd.add("-Dquarkus.http.host=" + options.bind);
        if (options.insecure) cmd.add("-Dspillway.insecure=true");
        options.brokerProperties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.add("-jar");
        cmd.add(jar.toString());
        broker = spawn(cmd, options.brokerName, options.brokerEnvironment);
        awaitHealthy(Duration.ofSeconds(120));
    }

    /**
     * Starts a local agent the way a new machine joins: with a one-time join token for its name and
     * pool, minted here as the admin. An agent that joined before (its work directory holds the node
     * credential the broker gave it) reconnects with that credential instead; no token is minted.
     */
    public Process startAgent(String name) {
        return startAgent(name, Files.exists(agentWorkDir(name).resolve("node-credential")) ? null : mintJoinToken(name));
    }

    /** A one-time join token for local agent {@code name} in this setup's pool, valid for 10 minutes. */
    public String mintJoinToken(String name) {
        ManagedChannel channel = channel();
        try {
            return NodeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .createJoinToken(CreateJoinTokenRequest.newBuilder().setNodeName(name).setPool(options.pool)
                            .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(600)).build())
                    .getToken();
        } finally {
            channel.shutdownNow();
        }
    }

    private Path agentWorkDir(String name) {
        return options.dataDir.resolve("agents").resolve(name);
    }

    /** Starts an agent with a one-time join token (null: it reconnects with the node credential in its work directory). */
    public Process startAgent(String name, String joinToken) {
        return startAgent(name, joinToken, brokerAddress());
    }

    /**
     * Starts an agent that reaches the broker at {@code brokerAddress} (host:port; a proxy in front of the
     * broker, say) instead of the broker's own address. The address must be one the broker's certificate
     * names (127.0.0.1 or localhost, any port).
     */
    public Process startAgent(String name, String joinToken, String brokerAddress) {
        Path jar = options.home.resolve("on-prem-agent/target/spillway-agent.jar");
        require(jar);
        List<String> cmd = new ArrayList<>(List.of(java(), "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar.toString(),
                "--broker", brokerAddress));
        cmd.addAll(options.insecure ? List.of("--insecure") : List.of("--ca-file", BrokerTls.caFileIn(options.dataDir).toString()));
        cmd.addAll(List.of(
                "--name", name, "--pool", options.pool,
                "--cpu", options.agentCpu, "--memory", options.agentMemory,
                "--drain", options.drain, "--drain-timeout", options.drainTimeout,
                "--work-dir", agentWorkDir(name).toString(),
                "--parent-pid", String.valueOf(ProcessHandle.current().pid()))); // the agent stops when this process ends
        Process p = spawn(cmd, name, joinToken == null ? Map.of() : Map.of("SPILLWAY_JOIN_TOKEN", joinToken));
        agents.put(name, p);
        return p;
    }

    public Process broker() {
        return broker;
    }

    public Map<String, Process> agents() {
        return agents;
    }

    /** SIGTERM and wait (the broker shuts down cleanly, stopping its embedded PostgreSQL). */
    public void stopBroker() {
        stop(broker, Duration.ofSeconds(60));
    }

    /** SIGKILL: the broker dies on the spot. */
    public void killBroker() {
        broker.destroyForcibly();
        waitFor(broker, Duration.ofSeconds(30));
    }

    /** SIGTERM: the agent drains per its drain mode. */
    public void stopAgent(String name) {
        stop(agents.get(name), Duration.ofSeconds(60));
    }

    /** SIGKILL: the agent dies on the spot, its task processes keep running until reaped below. */
    public void killAgent(String name) {
        Process p = agents.get(name);
        List<ProcessHandle> children = p.descendants().toList();
        p.destroyForcibly();
        waitFor(p, Duration.ofSeconds(30));
        // The tasks it ran are orphans now; a real machine would lose them with it.
        children.forEach(ProcessHandle::destroyForcibly);
    }

    /**
     * Goes down in order: bursting stops and the cloud instances are terminated first (each
     * record gets its end and cost), then the agents drain, then the broker stops; last, any
     * local-cloud instance still running is stopped by its recorded pid.
     */
    @Override
    public void close() {
        stopBursting();
        for (Process p : agents.values()) {
            if (p.isAlive()) p.destroy();
        }
        for (Process p : agents.values()) stop(p, Duration.ofSeconds(40));
        if (broker != null) stopBroker();
        stopLocalCloudInstances();
    }

    /**
     * Asks the broker to stop bursting and terminate its cloud instances, as the admin whose key
     * the broker keeps in the data directory. Returns how many it terminated; -1 when it could not ask.
     */
    public int stopBursting() {
        if (broker == null || !broker.isAlive()) return -1;
        ManagedChannel channel = null;
        try {
            channel = channel();
            return PoolServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(2, TimeUnit.MINUTES)
                    .stopBursting(StopBurstingRequest.getDefaultInstance())
                    .getTerminatedInstances();
        } catch (Spillway.CliException | StatusRuntimeException e) {
            System.err.println("spillway: could not stop bursting before going down (" + e.getMessage() + "); stopping anyway");
            return -1;
        } finally {
            if (channel != null) channel.shutdownNow();
        }
    }

    /**
     * The local cloud's instances are agent processes that outlive their broker, as VMs outlive a
     * control plane. When this machine's setup goes down they go too: each is stopped by the pid
     * its instance record holds.
     */
    private void stopLocalCloudInstances() {
        Path root = options.dataDir.resolve("local-cloud");
        if (!Files.isDirectory(root)) return;
        try (var files = Files.walk(root, 2)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".instance")).toList()) {
                java.util.Properties record = new java.util.Properties();
                try (var in = Files.newBufferedReader(f)) {
                    record.load(in);
                }
                long pid = Long.parseLong(record.getProperty("pid", "0"));
                if (pid > 0) ProcessHandle.of(pid).filter(ProcessHandle::isAlive).ifPresent(p -> {
                    p.destroy();
                    p.onExit().orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).exceptionally(e -> {
                        p.destroyForcibly();
                        return p;
                    }).join();
                });
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stop the local cloud's instances under " + root, e);
        }
    }

    private void awaitHealthy(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!broker.isAlive()) {
                throw new IllegalStateException("the broker exited with code " + broker.exitValue() + "; see " + logDir.resolve(options.brokerName + ".log"));
            }
            // The broker makes its CA early in its start; until then there is nothing to trust yet.
            if (options.insecure || Files.isRegularFile(BrokerTls.caFileIn(options.dataDir))) {
                BrokerTls tls = tls();
                try {
                    java.net.http.HttpResponse<Void> r = tls.httpClient().connectTimeout(Duration.ofMillis(500)).build().send(
                            java.net.http.HttpRequest.newBuilder(tls.url("127.0.0.1:" + options.port, "/q/health/ready"))
                                    .timeout(Duration.ofSeconds(2)).build(), java.net.http.HttpResponse.BodyHandlers.discarding());
                    if (r.statusCode() == 200) return;
                } catch (IOException notYet) {
                    // still starting
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the broker");
                }
            }
            try {
                Thread.sleep(100); // polling a starting process: there is nothing to wait on but its port
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the broker");
            }
        }
        throw new IllegalStateException("the broker did not become healthy within " + timeout + "; see " + logDir.resolve(options.brokerName + ".log"));
    }

    private Process spawn(List<String> cmd, String name, Map<String, String> env) {
        try {
            Files.createDirectories(logDir);
            Path log = logDir.resolve(name + ".log");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            pb.environment().putAll(env);
            return pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name, e);
        }
    }

    private static void stop(Process p, Duration timeout) {
        if (p == null || !p.isAlive()) return;
        p.destroy();
        if (!waitFor(p, timeout)) {
            p.destroyForcibly();
            waitFor(p, Duration.ofSeconds(10));
        }
    }

    private static boolean waitFor(Process p, Duration timeout) {
        try {
            return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static void require(Path jar) {
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar + " is missing: build first (./mvnw -DskipTests package)");
        }
    }

    private static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }
}
