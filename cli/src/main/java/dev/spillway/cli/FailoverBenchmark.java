package dev.spillway.cli;

import dev.spillway.api.v1.BrokerServiceGrpc;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetStatusRequest;
import dev.spillway.api.v1.GetStatusResponse;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskTemplate;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Failover time of two brokers on one database: the leader is killed (SIGKILL) while a job waits
 * to be placed, and the time is measured until the other broker holds the lease (takeover) and
 * until it has placed the waiting task on a node (first placement: agents reconnected to it and
 * its first scheduling cycle ran). The database is the first broker's embedded PostgreSQL, which
 * outlives its broker's kill as a database server outlives a broker's machine; the second broker
 * and every restarted one use it as an external database. Each run kills whichever broker leads.
 */
@Command(name = "failover", description = "Failover time: kill -9 of the leader broker until the follower leads and has placed a waiting task.")
final class FailoverBenchmark implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--runs", defaultValue = "3", description = "Leaders killed, one after the other (default ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--ttl", defaultValue = "10s", description = "The leader lease's length, spillway.leader.ttl (default ${DEFAULT-VALUE}).")
    String ttl;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean insecure = ((Spillway) spec.root().userObject()).insecure;
        Path dir = Files.createTempDirectory("spillway-bench-failover-");
        LocalCluster[] brokers = {options(dir, "broker-a", insecure), options(dir, "broker-b", insecure)};
        List<Long> takeovers = new ArrayList<>();
        List<Long> placements = new ArrayList<>();
        ManagedChannel[] channels = new ManagedChannel[2];
        long databasePid = -1;
        try {
            brokers[0].startBroker(); // on its embedded database, which it starts
            Path pidFile = dir.resolve("postgres/data/postmaster.pid");
            List<String> pid = Files.readAllLines(pidFile);
            databasePid = Long.parseLong(pid.get(0).trim());
            String url = "postgresql://postgres:" + Files.readString(dir.resolve("db-password")).strip() + "@127.0.0.1:" + pid.get(3).trim() + "/postgres";
            brokers[1].options().brokerEnvironment.put("SPILLWAY_DATABASE_URL", url);
            brokers[0].options().brokerEnvironment.put("SPILLWAY_DATABASE_URL", url); // when it is started again
            brokers[1].startBroker();
            String addresses = brokers[0].brokerAddress() + "," + brokers[1].brokerAddress();
            for (int i = 1; i <= 2; i++) brokers[0].startAgent("agent-" + i, brokers[0].mintJoinToken("agent-" + i), addresses);
            channels[0] = brokers[0].channel();
            channels[1] = brokers[1].channel();
            awaitNodes(channels[1], 2);
            for (int run = 0; run < runs; run++) {
                String leading = leader(channels[0]);
                if (leading == null) leading = leader(channels[1]);
                int leader = "broker-a".equals(leading) ? 0 : 1;
                int follower = 1 - leader;
                long killedAt = System.nanoTime();
                brokers[leader].broker().destroyForcibly();
                // Submitted to the survivor at the kill: it waits until a broker leads and its agents are back.
                String waiting = JobServiceGrpc.newBlockingStub(channels[follower]).submitJob(SubmitJobRequest.newBuilder()
                        .setSpec(job(1, "true")).build()).getUid();
                long takeover = -1;
                long placed = -1;
                while (placed < 0 || takeover < 0) {
                    long now = System.nanoTime();
                    if (now - killedAt > TimeUnit.SECONDS.toNanos(120)) throw new IllegalStateException("no failover within 120 s");
                    if (takeover < 0 && brokers[follower].options().brokerName.equals(leader(channels[follower]))) takeover = now - killedAt;
                    if (placed < 0 && placed(channels[follower], waiting)) placed = now - killedAt;
                    Thread.sleep(20); // polling another process: there is nothing to wait on
                }
                takeovers.add(TimeUnit.NANOSECONDS.toMillis(takeover));
                placements.add(TimeUnit.NANOSECONDS.toMillis(placed));
                out.printf(Locale.ROOT, "run %d: %s killed; %s led after %d ms and placed the waiting task after %d ms%n", run + 1,
                        brokers[leader].options().brokerName, brokers[follower].options().brokerName, takeovers.get(run), placements.get(run));
                out.flush();
                brokers[leader].killBroker(); // reaps it
                Spillway.close(channels[leader]);
                brokers[leader].startBroker(); // back, as a follower
                channels[leader] = brokers[leader].channel();
                awaitNodes(channels[follower], 2);
            }
            out.printf(Locale.ROOT, "RESULT failover takeover_ms=%d first_placement_ms=%d takeover_max_ms=%d first_placement_max_ms=%d ttl_ms=%d runs=%d%n",
                    median(takeovers), median(placements), takeovers.stream().mapToLong(Long::longValue).max().orElse(0),
                    placements.stream().mapToLong(Long::longValue).max().orElse(0),
                    ttlMillis(), runs);
            out.flush();
            return Spillway.OK;
        } finally {
            for (ManagedChannel c : channels) if (c != null) Spillway.close(c);
            for (LocalCluster b : brokers) b.close();
            stopDatabase(databasePid);
        }
    }

    private LocalCluster options(Path dir, String name, boolean insecure) {
        LocalCluster.Options o = new LocalCluster.Options();
        o.dataDir = dir;
        o.port = LocalCluster.freePort();
        o.agents = 0;
        o.agentCpu = "2";
        o.agentMemory = "4Gi";
        o.insecure = insecure;
        o.brokerName = name;
        o.brokerJvmOptions = "-Xmx512m";
        o.brokerProperties.put("spillway.leader.id", name);
        o.brokerProperties.put("spillway.leader.ttl", ttl);
        return new LocalCluster(o);
    }

    /** The ttl as given (e.g. 10s, 4000ms) in milliseconds. */
    private long ttlMillis() {
        String t = ttl.trim().toLowerCase(Locale.ROOT);
        if (t.endsWith("ms")) return Long.parseLong(t.substring(0, t.length() - 2));
        if (t.endsWith("s")) return Long.parseLong(t.substring(0, t.length() - 1)) * 1000;
        return java.time.Duration.parse(t.startsWith("p") ? t : "PT" + t).toMillis();
    }

    private static JobSpec job(int tasks, String command) {
        return JobSpec.newBuilder().setName("failover").setTaskCount(tasks)
                .setTask(TaskTemplate.newBuilder().addCommand("/bin/sh").addCommand("-c").addCommand(command)
                        .setResources(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(64)))
                .build();
    }

    private static String leader(ManagedChannel channel) {
        try {
            GetStatusResponse s = BrokerServiceGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
                    .getStatus(GetStatusRequest.getDefaultInstance());
            return s.hasLeader() && s.getLeader().getHeld() ? s.getLeader().getHolder() : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** Whether the job's task has been placed (assigned, running or done) by the broker behind {@code channel}. */
    private static boolean placed(ManagedChannel channel, String job) {
        try {
            var counts = JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
                    .getJob(GetJobRequest.newBuilder().setName(job).build()).getTaskCountsMap();
            return counts.getOrDefault("TASK_STATE_QUEUED", 0) == 0 && !counts.isEmpty();
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static void awaitNodes(ManagedChannel channel, int n) throws InterruptedException {
        for (long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120); System.nanoTime() < until; Thread.sleep(200)) {
            try {
                long ready = Listings.nodes(channel, null).stream().filter(x -> x.getState() == dev.spillway.api.v1.NodeState.NODE_STATE_READY).count();
                if (ready >= n) return;
            } catch (RuntimeException notYet) {
                // the broker is still starting
            }
        }
        throw new IllegalStateException(n + " nodes did not become ready within 120 s");
    }

    private static long median(List<Long> values) {
        List<Long> sorted = values.stream().sorted().toList();
        return sorted.isEmpty() ? 0 : sorted.get(sorted.size() / 2);
    }

    /** The embedded PostgreSQL the first broker started outlives the kills: stopped here, by its recorded pid, if it is a postgres. */
    private static void stopDatabase(long pid) {
        if (pid <= 0) return;
        ProcessHandle.of(pid).filter(p -> p.info().command().map(c -> c.contains("postgres")).orElse(false)).ifPresent(p -> {
            p.destroy();
            p.onExit().orTimeout(30, TimeUnit.SECONDS).exceptionally(e -> {
                p.destroyForcibly();
                return p;
            }).join();
        });
    }
}
