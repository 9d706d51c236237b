package dev.spillway.provider.local;

import dev.spillway.provider.spi.AgentBootstrap;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.CapacityProvider;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.Tags;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * A simulated cloud on this machine: an instance is an agent process started after a boot delay.
 * Instance records live in a state directory (as a cloud keeps them), so {@link #list} and
 * {@link #terminate} work across broker restarts, and the processes outlive a killed broker like
 * real VMs would. {@link #faults()} injects what clouds do: failed launches, no capacity, spot
 * interruptions, instances that never join.
 *
 * <p>The join token reaches the agent through its environment, never its command line; until
 * boot it is kept with the instance like cloud user data (a file readable by this user only).
 */
public final class LocalProvider implements CapacityProvider, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(LocalProvider.class.getName());

    /**
     * @param stateDir     where instance records and instance working directories live
     * @param agentCommand how to start an agent (e.g. {@code java -jar spillway-agent.jar}); agent options are appended
     * @param bootDelay    time from launch until the agent process starts
     * @param catalog      what this simulated cloud sells, with prices
     */
    public record Settings(Path stateDir, List<String> agentCommand, Duration bootDelay, List<InstanceOffering> catalog) {
        public Settings {
            agentCommand = List.copyOf(agentCommand);
            catalog = List.copyOf(catalog);
        }
    }

    private final Settings settings;
    private final Faults faults = new Faults();
    private final ScheduledExecutorService boots = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "local-cloud-boot");
        t.setDaemon(true);
        return t;
    });

    public LocalProvider(Settings settings) {
        this.settings = settings;
        try {
            Files.createDirectories(settings.stateDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + settings.stateDir(), e);
        }
        resumePendingBoots();
    }

    /** Instances accepted before this provider (or its broker) restarted still boot, as VMs would. */
    private void resumePendingBoots() {
        try (var files = Files.list(settings.stateDir())) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".instance")).toList()) {
                String id = f.getFileName().toString().replace(".instance", "");
                Record r = read(id);
                if (r != null && r.state == Instance.State.PENDING && !faults.neverBoots(r.instanceType)) {
                    boots.schedule(() -> boot(id), settings.bootDelay().toMillis(), TimeUnit.MILLISECONDS);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The instance's bootstrap, kept like a cloud keeps user data: readable by this user only, in
     * the simulated cloud's own state directory, read once at boot.
     */
    private void writeUserData(String id, AgentBootstrap b) {
        Properties p = new Properties();
        p.setProperty("broker", b.brokerAddress());
        p.setProperty("token", b.joinToken());
        p.setProperty("node", b.nodeName());
        p.setProperty("pool", b.pool());
        b.labels().forEach((k, v) -> p.setProperty("label." + k, v));
        store(p, settings.stateDir().resolve(id + ".userdata"), "user data");
    }

    private AgentBootstrap readUserData(String id) {
        Path f = settings.stateDir().resolve(id + ".userdata");
        if (!Files.exists(f)) return null;
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> labels = new HashMap<>();
        p.stringPropertyNames().stream().filter(k -> k.startsWith("label.")).forEach(k -> labels.put(k.substring(6), p.getProperty(k)));
        return new AgentBootstrap(p.getProperty("broker"), p.getProperty("token"), p.getProperty("node"), p.getProperty("pool"), labels);
    }

    public Faults faults() {
        return faults;
    }

    @Override
    public String kind() {
        return "local";
    }

    @Override
    public List<InstanceOffering> offerings() {
        return settings.catalog();
    }

    @Override
    public synchronized Instance launch(LaunchRequest request) throws CapacityException {
        String id = instanceId(request.idempotencyKey());
        Record existing = read(id);
        if (existing != null) return existing.instance(); // a retried launch: the first one stands
        faults.beforeLaunch(request);
        InstanceOffering offering = settings.catalog().stream()
                .filter(o -> o.instanceType().equals(request.instanceType()) && o.zone().equals(request.zone()) && o.spot() == request.spot())
                .findFirst()
                .orElseThrow(() -> new CapacityException(CapacityException.Kind.INVALID_CONFIGURATION,
                        "the local cloud sells no " + (request.spot() ? "spot " : "") + request.instanceType() + " in " + request.zone()));
        if (request.spot() && request.maxPriceUsdPerHour() > 0 && request.maxPriceUsdPerHour() < offering.priceUsdPerHour()) {
            throw new CapacityException(CapacityException.Kind.INSUFFICIENT_CAPACITY,
                    "spot price " + offering.priceUsdPerHour() + " USD/h is above the maximum of " + request.maxPriceUsdPerHour());
        }
        Record r = new Record(id, request.instanceType(), request.region(), request.zone(), request.spot(), Instance.State.PENDING,
                request.tags(), Instant.now(), 0, offering.shape().cpuMillis(), offering.shape().memoryMib(), offering.shape().gpus());
        write(r);
        writeUserData(id, request.bootstrap());
        if (!faults.neverBoots(request.instanceType())) {
            boots.schedule(() -> boot(id), settings.bootDelay().toMillis(), TimeUnit.MILLISECONDS);
        }
        faults.afterAccepting();
        LOG.info(() -> "local cloud: launching " + id + " (" + request.instanceType() + (request.spot() ? ", spot" : "") + " in " + request.zone() + ")");
        return r.instance();
    }

    private synchronized void boot(String id) {
        AgentBootstrap bootstrap = readUserData(id);
        Record r = read(id);
        if (bootstrap == null || r == null || r.state != Instance.State.PENDING) return;
        List<String> cmd = new ArrayList<>(settings.agentCommand());
        cmd.addAll(List.of("--broker", bootstrap.brokerAddress(), "--name", bootstrap.nodeName(), "--pool", bootstrap.pool(),
                "--cpu", r.cpuMillis + "m", "--memory", Long.toString(r.memoryMib), "--gpus", Integer.toString(r.gpus),
                "--drain", "hand-back", "--work-dir", settings.stateDir().resolve(id).resolve("work").toString()));
        bootstrap.labels().forEach((k, v) -> cmd.addAll(List.of("--label", k + "=" + v)));
        try {
            Path log = settings.stateDir().resolve(id).resolve("agent.log");
            Files.createDirectories(log.getParent());
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            pb.environment().put("SPILLWAY_JOIN_TOKEN", bootstrap.joinToken());
            Process p = pb.start();
            write(r.with(Instance.State.RUNNING, p.pid()));
        } catch (IOException e) {
            LOG.warning("local cloud: instance " + id + " failed to boot: " + e.getMessage());
            write(r.with(Instance.State.TERMINATED, 0));
        }
    }

    @Override
    public synchronized List<Instance> list(String cluster) {
        List<Instance> out = new ArrayList<>();
        try (var files = Files.list(settings.stateDir())) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".instance")).sorted().toList()) {
                Record r = read(f.getFileName().toString().replace(".instance", ""));
                if (r == null || !cluster.equals(r.tags.get(Tags.CLUSTER))) continue;
                if (r.state == Instance.State.RUNNING && !alive(r.pid)) {
                    r = r.with(Instance.State.TERMINATED, 0); // the machine went away under us
                    write(r);
                }
                out.add(r.instance());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    @Override
    public void terminate(String instanceId) {
        Record r;
        synchronized (this) {
            r = read(instanceId);
            if (r == null || r.state == Instance.State.TERMINATED) return;
            write(r.with(Instance.State.STOPPING, r.pid));
        }
        stop(r.pid, Duration.ofSeconds(30));
        synchronized (this) {
            write(r.with(Instance.State.TERMINATED, 0));
        }
        LOG.info(() -> "local cloud: terminated " + instanceId);
    }

    /** A spot interruption: the instance gets its notice (SIGTERM: the agent hands its tasks back) and goes away. */
    public void interrupt(String instanceId) {
        LOG.info(() -> "local cloud: spot interruption of " + instanceId);
        terminate(instanceId);
    }

    @Override
    public void close() {
        boots.shutdownNow();
    }

    // ---- records ---------------------------------------------------------------------------------

    private record Record(String id, String instanceType, String region, String zone, boolean spot, Instance.State state,
                          Map<String, String> tags, Instant launchTime, long pid, long cpuMillis, long memoryMib, int gpus) {
        Instance instance() {
            return new Instance(id, instanceType, region, zone, spot, state, tags, launchTime);
        }

        Record with(Instance.State s, long p) {
            return new Record(id, instanceType, region, zone, spot, s, tags, launchTime, p, cpuMillis, memoryMib, gpus);
        }
    }

    private Path file(String id) {
        return settings.stateDir().resolve(id + ".instance");
    }

    private Record read(String id) {
        Path f = file(id);
        if (!Files.exists(f)) return null;
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> tags = new HashMap<>();
        p.stringPropertyNames().stream().filter(k -> k.startsWith("tag.")).forEach(k -> tags.put(k.substring(4), p.getProperty(k)));
        return new Record(id, p.getProperty("type"), p.getProperty("region"), p.getProperty("zone"), Boolean.parseBoolean(p.getProperty("spot")),
                Instance.State.valueOf(p.getProperty("state")), tags, Instant.parse(p.getProperty("launched")),
                Long.parseLong(p.getProperty("pid", "0")), Long.parseLong(p.getProperty("cpu")), Long.parseLong(p.getProperty("memory")),
                Integer.parseInt(p.getProperty("gpus")));
    }

    private void write(Record r) {
        Properties p = new Properties();
        p.setProperty("type", r.instanceType);
        p.setProperty("region", r.region);
        p.setProperty("zone", r.zone);
        p.setProperty("spot", Boolean.toString(r.spot));
        p.setProperty("state", r.state.name());
        p.setProperty("launched", r.launchTime.toString());
        p.setProperty("pid", Long.toString(r.pid));
        p.setProperty("cpu", Long.toString(r.cpuMillis));
        p.setProperty("memory", Long.toString(r.memoryMib));
        p.setProperty("gpus", Integer.toString(r.gpus));
        r.tags.forEach((k, v) -> p.setProperty("tag." + k, v));
        store(p, file(r.id), "local cloud instance");
    }

    /** Writes atomically (temporary file, then rename), readable by this user only. */
    private void store(Properties p, Path target, String comment) {
        try {
            Path tmp = Files.createTempFile(settings.stateDir(), target.getFileName().toString(), ".tmp",
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                p.store(out, comment);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deterministic in the idempotency key, so a retried launch finds the first one's record. */
    static String instanceId(String idempotencyKey) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(idempotencyKey.getBytes(StandardCharsets.UTF_8));
            return "i-" + HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean alive(long pid) {
        return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static void stop(long pid, Duration grace) {
        if (pid <= 0) return;
        ProcessHandle.of(pid).ifPresent(p -> {
            p.destroy();
            try {
                p.onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                p.destroyForcibly();
            }
        });
    }
}
