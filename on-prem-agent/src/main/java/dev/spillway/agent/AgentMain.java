package dev.spillway.agent;

import dev.spillway.api.Quantities;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code spillway-agent}: joins a node to a Spillway broker. */
@Command(name = "spillway-agent", mixinStandardHelpOptions = true, version = "spillway-agent 0.1.0",
        description = "Runs Spillway task attempts on this machine for a broker.")
public final class AgentMain implements Callable<Integer> {

    @Option(names = "--broker", defaultValue = "${env:SPILLWAY_BROKER:-127.0.0.1:7070}",
            description = "Broker address host:port (env SPILLWAY_BROKER; default ${DEFAULT-VALUE}).")
    String broker;

    @Option(names = "--ca-file", paramLabel = "PEM",
            description = "Connect with TLS and verify the broker against this CA certificate (the broker's <data-dir>/tls/ca.pem).")
    Path caFile;

    @Option(names = "--insecure", description = "Connect in plaintext: the broker is not verified (labs only).")
    boolean insecure;

    @Option(names = "--token-file", description = "Labs only: file holding the cluster's shared agent token (else env SPILLWAY_AGENT_TOKEN); "
            + "the broker accepts it only with spillway.agents.shared-token=true.")
    Path tokenFile;

    @Option(names = "--join-token-file",
            description = "File holding a one-time join token from 'spillway token create' (else env SPILLWAY_JOIN_TOKEN).")
    Path joinTokenFile;

    @Option(names = "--name", description = "Node name, unique in the cluster (default: the host name).")
    String name;

    @Option(names = "--pool", defaultValue = "onprem", description = "Pool to join (default ${DEFAULT-VALUE}).")
    String pool;

    @Option(names = "--cpu", description = "Cores offered to tasks, e.g. 2 or 1.5 (default: all the OS reports).")
    String cpu;

    @Option(names = "--memory", description = "Memory offered to tasks, e.g. 4Gi or 512Mi (default: all the OS reports).")
    String memory;

    @Option(names = "--gpus", defaultValue = "0", description = "GPUs offered to tasks (default ${DEFAULT-VALUE}).")
    int gpus;

    @Option(names = "--label", description = "Node label key=value (repeatable).")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--work-dir", description = "Where attempts run and keep their output (default ~/.spillway/agents/<name>).")
    Path workDir;

    @Option(names = "--run-as", paramLabel = "USER",
            description = "OS user that task processes run as (needs root, or CAP_SETUID, CAP_SETGID, CAP_CHOWN and CAP_KILL). "
                    + "Default: spillway-task, else nobody, when the agent runs as root; else the agent's own user.")
    String runAs;

    @Option(names = "--drain", defaultValue = "finish",
            description = "On SIGTERM: 'finish' running tasks (up to --drain-timeout, then hand back the rest) or 'hand-back' at once.")
    String drain;

    @Option(names = "--drain-timeout", defaultValue = "30s", description = "Longest wait for running tasks when draining (default ${DEFAULT-VALUE}).")
    String drainTimeout;

    @Option(names = "--spot-watch", defaultValue = "none",
            description = "Watch the cloud's metadata service for a spot interruption notice and drain before the machine goes: "
                    + "none, aws (EC2 IMDSv2) or azure (Scheduled Events). Default ${DEFAULT-VALUE}.")
    String spotWatch;

    @Option(names = "--metadata-endpoint", defaultValue = "http://169.254.169.254",
            description = "The instance metadata service (default ${DEFAULT-VALUE}).")
    java.net.URI metadataEndpoint;

    @Option(names = "--spot-watch-interval", defaultValue = "5s", description = "How often to look for a notice (default ${DEFAULT-VALUE}).")
    String spotWatchInterval;

    @Option(names = "--cgroup-root", defaultValue = "auto", paramLabel = "auto|none|DIR",
            description = "Where each attempt gets its own cgroup v2 (all its processes are killed when it ends; memory and cpu limits "
                    + "when those controllers are available): 'auto' (the agent's own cgroup, or <cgroup2 mount>/spillway), a cgroup "
                    + "directory, or 'none' (process group only). Default ${DEFAULT-VALUE}.")
    String cgroupRoot;

    @Option(names = "--parent-pid", paramLabel = "PID",
            description = "Stop (draining as on SIGTERM) when this process ends; 'spillway up' passes its own, so that no agent outlives it.")
    Long parentPid;

    @Option(names = "--keep-attempts", defaultValue = "24h",
            description = "Delete an attempt's directory (output, working directory) this long after it ended and the broker recorded "
                    + "its end, e.g. 24h, 7d, 30m (default ${DEFAULT-VALUE}).")
    String keepAttempts;

    @Option(names = "--max-log-bytes", defaultValue = "100Mi",
            description = "Cap of each attempt's stdout and stderr file; the newest output is kept, e.g. 100Mi, 1Gi, 65536 "
                    + "(default ${DEFAULT-VALUE}).")
    String maxLogBytes;

    /** Drain is cut this long before the machine goes, so hand-backs reach the broker. */
    private static final Duration NOTICE_MARGIN = Duration.ofSeconds(10);

    @Override
    public Integer call() throws Exception {
        String token = System.getenv("SPILLWAY_AGENT_TOKEN");
        if (token == null || token.isBlank()) token = System.getenv("SPILLWAY_JOIN_TOKEN");
        for (Path file : new Path[] {joinTokenFile, tokenFile}) {
            if (file == null) continue;
            if (!Files.isReadable(file)) {
                System.err.println("spillway-agent: cannot read " + file);
                return 2;
            }
            token = Files.readString(file).trim();
        }
        String node = name != null ? name : hostName();
        Drain.Mode mode = switch (drain) {
            case "finish" -> Drain.Mode.FINISH;
            case "hand-back" -> Drain.Mode.HAND_BACK;
            default -> throw new CommandLine.ParameterException(new CommandLine(this), "--drain must be 'finish' or 'hand-back'");
        };
        Agent.Settings settings = new Agent.Settings(broker, token, node, pool,
                cpu == null ? HostCapacity.cpuMillis() : Quantities.parseCpuMillis(cpu),
                memory == null ? HostCapacity.memoryMib() : Quantities.parseMemoryMib(memory),
                gpus, labels,
                workDir != null ? workDir : Path.of(System.getProperty("user.home"), ".spillway", "agents", node),
                mode, parseDuration(drainTimeout), "0.1.0", cgroupRoot, parseDuration(keepAttempts), parseBytes(maxLogBytes));
        if (settings.keepAttempts().isNegative() || settings.maxLogBytes() < 1024) {
            System.err.println("spillway-agent: --keep-attempts must not be negative and --max-log-bytes must be at least 1Ki");
            return 2;
        }
        if ((token == null || token.isBlank()) && NodeCredentialFile.in(settings.workDir()).read().isEmpty()) {
            System.err.println("spillway-agent: no credential: pass --join-token-file or set SPILLWAY_JOIN_TOKEN (a token from 'spillway token create'); "
                    + "a node that joined before reconnects with the credential in " + NodeCredentialFile.in(settings.workDir()).path()
                    + " (labs with the shared agent token: --token-file or SPILLWAY_AGENT_TOKEN)");
            return 2;
        }
        if (settings.cpuMillis() <= 0 || settings.memoryMib() <= 0) {
            System.err.println("spillway-agent: --cpu and --memory must be positive");
            return 2;
        }
        if (!cgroupRoot.equals(AttemptCgroups.AUTO) && !cgroupRoot.equals(AttemptCgroups.NONE) && !Files.isDirectory(Path.of(cgroupRoot))) {
            System.err.println("spillway-agent: --cgroup-root must be auto, none or an existing cgroup directory; " + cgroupRoot + " is not a directory");
            return 2;
        }
        Files.createDirectories(settings.workDir());
        TaskUser taskUser;
        try {
            taskUser = TaskUser.forThisAgent(java.util.Optional.ofNullable(runAs), NativeLauncher.install(settings.workDir()));
        } catch (IllegalArgumentException e) {
            System.err.println("spillway-agent: " + e.getMessage());
            return 2;
        }
        BrokerTrust trust;
        try {
            trust = BrokerTrust.of(caFile, insecure);
        } catch (IllegalArgumentException e) {
            System.err.println("spillway-agent: " + e.getMessage());
            return 2;
        }
        Agent agent = new Agent(settings, taskUser, trust);
        CountDownLatch drained = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.drainAndStop();
            drained.countDown();
            // A complete drain is a clean stop: exit 0 rather than the JVM's 143 for SIGTERM.
            System.out.flush();
            System.err.flush();
            Runtime.getRuntime().halt(0);
        }, "agent-drain"));
        watchForInterruptions(agent);
        watchParent();
        agent.run();
        drained.await();
        return 0;
    }

    /** With {@code --parent-pid}: when that process ends, stop as on SIGTERM (the shutdown hook drains). */
    private void watchParent() {
        if (parentPid == null) return;
        Runnable stop = () -> {
            System.err.println("spillway-agent: the process that started this agent (pid " + parentPid + ") has ended; stopping");
            System.exit(0);
        };
        ProcessHandle.of(parentPid).ifPresentOrElse(parent -> parent.onExit().thenRun(stop), () -> new Thread(stop, "agent-parent-gone").start());
    }

    private void watchForInterruptions(Agent agent) {
        InterruptionWatcher.Cloud cloud = switch (spotWatch) {
            case "none" -> null;
            case "aws" -> InterruptionWatcher.Cloud.AWS;
            case "azure" -> InterruptionWatcher.Cloud.AZURE;
            default -> throw new CommandLine.ParameterException(new CommandLine(this), "--spot-watch must be none, aws or azure");
        };
        if (cloud == null) return;
        Thread watcher = new Thread(new InterruptionWatcher(cloud, metadataEndpoint, parseDuration(spotWatchInterval), notice -> {
            Duration left = Duration.between(java.time.Instant.now(), notice.at()).minus(NOTICE_MARGIN);
            if (left.isNegative()) left = Duration.ZERO;
            Duration finishFor = left;
            Thread stop = new Thread(() -> {
                agent.drainAndStop(Drain.Mode.FINISH, finishFor, notice.why() + ", machine goes at " + notice.at());
                System.exit(0); // the shutdown hook finds the drain done
            }, "agent-spot-drain");
            stop.start();
        }), "agent-spot-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    static Duration parseDuration(String text) {
        String t = text.trim();
        try {
            if (t.endsWith("ms")) return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            if (t.endsWith("s")) return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
            if (t.endsWith("m")) return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
            if (t.endsWith("h")) return Duration.ofHours(Long.parseLong(t.substring(0, t.length() - 1)));
            if (t.endsWith("d")) return Duration.ofDays(Long.parseLong(t.substring(0, t.length() - 1)));
            return Duration.parse(t);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a duration: '" + text + "' (use 30s, 500ms, 2m, 24h, 7d)");
        }
    }

    /** Bytes: a whole number, optionally with Ki, Mi or Gi. */
    static long parseBytes(String text) {
        String t = text.trim();
        long unit = 1;
        for (String[] u : new String[][] {{"Ki", "1024"}, {"Mi", "1048576"}, {"Gi", "1073741824"}}) {
            if (t.endsWith(u[0])) {
                unit = Long.parseLong(u[1]);
                t = t.substring(0, t.length() - 2);
            }
        }
        try {
            return Math.multiplyExact(Long.parseLong(t), unit);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a size in bytes: '" + text + "' (use 65536, 512Ki, 100Mi, 1Gi)");
        }
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "node-" + ProcessHandle.current().pid();
        }
    }

    public static void main(String[] args) {
        ProcessTree.preferVforkLaunch();
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT.%1$tL %4$-7s [agent] %5$s%6$s%n");
        CommandLine cli = new CommandLine(new AgentMain());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("spillway-agent: " + e.getMessage());
            return 1;
        });
        System.exit(cli.execute(args));
    }
}
