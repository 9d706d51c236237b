package dev.spillway.cli;

import dev.spillway.agent.MetadataLoopbackServer;
import dev.spillway.provider.spi.BootScript;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The machines behind a loopback cloud: an instance boots by doing what its boot script says, on
 * this machine: download the agent jar from the script's URL (the broker serves it), start it with
 * the script's environment and arguments, sized like its instance type. Stops every agent it
 * started, by its own process.
 */
final class BootedInstances implements AutoCloseable {

    private final Path dir;
    private final Map<String, Process> agents = new ConcurrentHashMap<>();
    private final Map<String, MetadataLoopbackServer> metadata = new ConcurrentHashMap<>();
    private final Map<String, String> instanceOfNode = new ConcurrentHashMap<>();
    /** Instances shut down, possibly while still booting: as in a cloud, such an instance never runs. */
    private final java.util.Set<String> gone = ConcurrentHashMap.newKeySet();

    BootedInstances(Path dir) {
        this.dir = dir;
    }

    /**
     * Boots {@code instanceId} in the background, as a cloud does, with its own metadata service;
     * {@code running} runs once its agent process is up, unless the instance was shut down while
     * it booted (then no agent is left running and {@code running} never runs).
     */
    void boot(String instanceId, String bootScript, int vcpus, long memoryMib, Runnable running) {
        BootScript.Parsed script = BootScript.parse(bootScript);
        String node = script.agentArguments().get(script.agentArguments().indexOf("--name") + 1);
        instanceOfNode.put(node, instanceId);
        Thread t = new Thread(() -> {
            try {
                MetadataLoopbackServer imds = new MetadataLoopbackServer(instanceId);
                metadata.put(instanceId, imds);
                Path home = Files.createDirectories(dir.resolve(instanceId));
                Path jar = home.resolve("spillway-agent.jar");
                // As the boot script does: fetch over HTTPS trusting the CA it carries, with the join token, and
                // refuse a jar whose SHA-256 is not the one the broker put in the script.
                HttpClient http = HttpClient.newHttpClient();
                List<String> trust = List.of("--insecure");
                if (script.caCertificatePem().isPresent()) {
                    Path ca = Files.writeString(home.resolve("ca.pem"), script.caCertificatePem().get());
                    http = BrokerTls.trusting(ca).httpClient().build();
                    trust = List.of("--ca-file", ca.toString());
                }
                HttpResponse<Path> download = http.send(HttpRequest.newBuilder(URI.create(script.agentUrl()))
                                .header("Authorization", "Bearer " + script.environment().getOrDefault("SPILLWAY_JOIN_TOKEN", "")).build(),
                        HttpResponse.BodyHandlers.ofFile(jar));
                if (download.statusCode() != 200) throw new IOException("agent download: HTTP " + download.statusCode());
                String sha256 = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(jar)));
                if (!sha256.equals(script.agentSha256())) throw new IOException("agent download: SHA-256 " + sha256 + ", the script says " + script.agentSha256());
                List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx192m",
                        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar.toString()));
                cmd.addAll(script.agentArguments());
                if (!script.agentArguments().contains("--insecure")) cmd.addAll(trust);
                cmd.addAll(List.of("--cpu", Integer.toString(vcpus), "--memory", memoryMib + "Mi", "--work-dir", home.resolve("work").toString(),
                        "--metadata-endpoint", imds.endpoint().toString(), "--spot-watch-interval", "500ms"));
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(home.resolve("agent.log").toFile());
                pb.environment().putAll(script.environment());
                synchronized (this) {
                    if (gone.contains(instanceId)) return;
                    agents.put(instanceId, pb.start());
                }
                running.run();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "boot-" + instanceId);
        t.setDaemon(true);
        t.start();
    }

    /** The instance that runs {@code node}. */
    String instanceOf(String node) {
        return instanceOfNode.get(node);
    }

    /** The instance's metadata service announces a spot interruption at {@code at}. */
    void announceInterruption(String instanceId, java.time.Instant at) {
        metadata.get(instanceId).announceInterruption(at);
    }

    /** The agent of an instance, while it has been started. */
    Process agent(String instanceId) {
        return agents.get(instanceId);
    }

    /** The instance goes away: its agent gets SIGTERM, as on a real shutdown. */
    void shutDown(String instanceId) {
        Process p;
        synchronized (this) {
            gone.add(instanceId);
            p = agents.get(instanceId);
        }
        if (p != null) p.destroy();
    }

    boolean anyRunning() {
        return agents.values().stream().anyMatch(Process::isAlive);
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : agents.values()) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        metadata.values().forEach(MetadataLoopbackServer::close);
    }
}
