package dev.spillway.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code spillway up}: the broker on embedded PostgreSQL plus a pool of local agents, until Ctrl-C. */
@Command(name = "up", description = "Run the broker (embedded PostgreSQL unless SPILLWAY_DATABASE_URL is set) and local agents until interrupted.")
final class UpCommand implements Callable<Integer> {

    @ParentCommand
    Spillway root;

    @Option(names = "--data", description = "Data directory (default ~/.spillway).")
    Path data;

    @Option(names = "--port", defaultValue = "7070", description = "Broker port for gRPC, REST, health and metrics (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind", defaultValue = "127.0.0.1", description = "Broker bind address (default ${DEFAULT-VALUE}: this machine only).")
    String bind;

    @Option(names = "--agents", defaultValue = "2", description = "Local agents in pool 'onprem' (default ${DEFAULT-VALUE}).")
    int agents;

    @Option(names = "--agent-cpu", defaultValue = "2", description = "Cores each agent offers (default ${DEFAULT-VALUE}).")
    String agentCpu;

    @Option(names = "--agent-memory", defaultValue = "4Gi", description = "Memory each agent offers (default ${DEFAULT-VALUE}).")
    String agentMemory;

    @Override
    public Integer call() throws InterruptedException {
        LocalCluster.Options o = new LocalCluster.Options();
        o.insecure = root.insecure; // plaintext for everything here, labs only (clients then need --insecure too)
        if (data != null) o.dataDir = data.toAbsolutePath();
        o.port = port;
        o.bind = bind;
        o.agents = agents;
        o.agentCpu = agentCpu;
        o.agentMemory = agentMemory;
        LocalCluster cluster = new LocalCluster(o);
        CountDownLatch stopped = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping.set(true);
            System.out.println("stopping: bursting stops and cloud instances are terminated, agents drain (running tasks finish or are handed back), then the broker stops");
            cluster.close();
            stopped.countDown();
        }, "spillway-down"));
        System.out.println("starting the broker on " + bind + ":" + port + " (data in " + o.dataDir + ", logs in " + cluster.logDir() + ")");
        cluster.startBroker();
        for (int i = 1; i <= agents; i++) cluster.startAgent("agent-" + i);
        System.out.printf("broker ready at %s with %d agent(s) of %s cpu / %s in pool 'onprem'%n", cluster.brokerAddress(), agents, agentCpu, agentMemory);
        System.out.println("admin API key in " + o.dataDir.resolve("admin-key") + " (owner-only); the CLI on this machine uses it"
                + (data == null ? "" : " with SPILLWAY_TOKEN_FILE=" + o.dataDir.resolve("admin-key")) + "; make keys for others with 'spillway apikey create'");
        System.out.println("try: ./spillway submit examples/hello.yaml    (Ctrl-C stops everything)");
        int code = cluster.broker().waitFor();
        if (stopping.get()) {
            stopped.await();
            return Spillway.OK;
        }
        System.err.println("spillway: the broker exited with code " + code + "; see " + cluster.logDir().resolve("broker.log"));
        return Spillway.ERROR;
    }
}
