package dev.spillway.cli;

import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskTemplate;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A real broker (packaged jar, embedded PostgreSQL in its own data directory under target/) and
 * real agent processes on random loopback ports, for one test class.
 */
final class ClusterFixture implements AutoCloseable {

    final LocalCluster cluster;
    final ManagedChannel channel;
    final JobServiceGrpc.JobServiceBlockingStub jobs;

    ClusterFixture(String name, int agents, String lease) throws IOException {
        this(name, agents, lease, o -> { });
    }

    ClusterFixture(String name, int agents, String lease, java.util.function.Consumer<LocalCluster.Options> customize) throws IOException {
        LocalCluster.Options o = new LocalCluster.Options();
        o.home = Path.of(System.getProperty("spillway.home", "..")).toAbsolutePath();
        Path base = Path.of("target", "it").toAbsolutePath();
        Files.createDirectories(base);
        o.dataDir = Files.createTempDirectory(base, name + "-");
        o.port = LocalCluster.freePort();
        o.agents = agents;
        o.agentCpu = "2";
        o.agentMemory = "2Gi";
        o.brokerJvmOptions = "-Xmx512m -XX:TieredStopAtLevel=1";
        o.brokerProperties.put("spillway.agents.lease", lease);
        o.brokerProperties.put("spillway.agents.heartbeat-interval", "500ms");
        customize.accept(o);
        cluster = new LocalCluster(o).start();
        channel = cluster.channel();
        jobs = JobServiceGrpc.newBlockingStub(channel);
        await().atMost(Duration.ofSeconds(60)).until(() -> readyNodes() == agents);
    }

    /** Adds an on-prem pool and a local cloud pool {@code aws-eu} priced like AWS eu-central-1, with fast test timings. */
    static void withLocalCloud(LocalCluster.Options o, int maxNodes, String scaleDownAfter) {
        o.brokerProperties.put("spillway.burst-interval", "500ms");
        o.brokerProperties.put("spillway.pools.onprem.kind", "on-prem");
        o.brokerProperties.put("spillway.pools.aws-eu.kind", "local");
        o.brokerProperties.put("spillway.pools.aws-eu.catalog", "aws-eu-central-1");
        o.brokerProperties.put("spillway.pools.aws-eu.max-nodes", Integer.toString(maxNodes));
        o.brokerProperties.put("spillway.pools.aws-eu.scale-down-after", scaleDownAfter);
        o.brokerProperties.put("spillway.pools.aws-eu.boot-delay", "500ms");
    }

    /** Waits until every cloud instance the broker knows of is terminated, then returns them all. */
    List<dev.spillway.api.v1.CloudInstance> awaitAllInstancesTerminated(Duration within) {
        var pools = dev.spillway.api.v1.PoolServiceGrpc.newBlockingStub(channel);
        var all = dev.spillway.api.v1.ListInstancesRequest.getDefaultInstance();
        await().atMost(within).until(() -> pools.listInstances(all).getInstancesList().stream().allMatch(i -> i.getState() == dev.spillway.api.v1.InstanceState.INSTANCE_STATE_TERMINATED));
        List<dev.spillway.api.v1.CloudInstance> instances = pools.listInstances(all).getInstancesList();
        assertLedgerIsTheInstancesCharges(instances);
        return instances;
    }

    /**
     * The ledger's invariant on what a test ran: per cloud pool, the cost allocated to tasks plus the idle rest is
     * the pool's instances' charges (lifetime × price), to the millionth of a dollar.
     */
    void assertLedgerIsTheInstancesCharges(List<dev.spillway.api.v1.CloudInstance> instances) {
        var start = java.time.Instant.now().minus(Duration.ofDays(2));
        var report = dev.spillway.api.v1.CostServiceGrpc.newBlockingStub(channel).getCostReport(dev.spillway.api.v1.GetCostReportRequest.newBuilder()
                .setGroupBy("pool").setStartTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(start.getEpochSecond())).build());
        java.util.Map<String, Long> charged = new java.util.TreeMap<>();
        for (var i : instances) charged.merge(i.getPool(), dev.spillway.api.Usd.micros(i.getCost()), Long::sum);
        java.util.Map<String, Long> ledger = new java.util.TreeMap<>();
        for (var g : report.getGroupsList()) {
            if (charged.containsKey(g.getKey())) ledger.put(g.getKey(), dev.spillway.api.Usd.micros(g.getCloudCost()) + dev.spillway.api.Usd.micros(g.getIdleCost()));
        }
        for (String p : charged.keySet()) ledger.putIfAbsent(p, 0L);
        org.assertj.core.api.Assertions.assertThat(ledger).as("allocated + idle by pool, against the instances' charges").isEqualTo(charged);
    }

    long readyNodes() {
        return dev.spillway.api.v1.NodeServiceGrpc.newBlockingStub(channel)
                .listNodes(dev.spillway.api.v1.ListNodesRequest.getDefaultInstance()).getNodesList().stream()
                .filter(n -> n.getState() == dev.spillway.api.v1.NodeState.NODE_STATE_READY).count();
    }

    static JobSpec shellJob(int tasks, long cpuMillis, String command) {
        return JobSpec.newBuilder().setName("it").setTaskCount(tasks)
                .setTask(TaskTemplate.newBuilder().addCommand("/bin/sh").addCommand("-c").addCommand(command)
                        .setResources(Resources.newBuilder().setCpuMillis(cpuMillis).setMemoryMib(128)))
                .build();
    }

    /** {@link #shellJob} whose tasks tolerate spot capacity. */
    static JobSpec spotJob(int tasks, String command) {
        JobSpec base = shellJob(tasks, 1000, command);
        return base.toBuilder().setTask(base.getTask().toBuilder().setSpotTolerant(true)).build();
    }

    String submit(JobSpec spec) {
        return jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid();
    }

    /** The job with every one of its tasks (GetJob, then ListTasks page by page, as the CLI's {@code job --tasks all}). */
    JobAndTasks job(String id) {
        return JobAndTasks.read(jobs, id);
    }

    /**
     * Waits for the job to finish, asking again (as every client must) while the broker answers
     * UNAVAILABLE: a broker that could not renew its lease during a database stall steps down and
     * takes the lease again, and meanwhile refuses the calls that need the leader's view.
     */
    JobAndTasks awaitFinished(String id, Duration timeout) {
        await().atMost(timeout).pollInterval(Duration.ofMillis(200)).ignoreExceptionsMatching(ClusterFixture::unavailable)
                .until(() -> job(id).getJob().hasFinishTime());
        return job(id);
    }

    private static boolean unavailable(Throwable e) {
        return Status.fromThrowable(e).getCode() == Status.Code.UNAVAILABLE;
    }

    /** Collects every event of a job from now until it finishes, on a stream of its own. */
    List<WatchJobResponse> watch(String id) {
        List<WatchJobResponse> events = new CopyOnWriteArrayList<>();
        Thread t = new Thread(() -> {
            try {
                JobServiceGrpc.newBlockingStub(channel).watchJob(WatchJobRequest.newBuilder().setName(id).build())
                        .forEachRemaining(events::add);
            } catch (RuntimeException ignored) {
                // the broker was stopped under the watch; tests that restart it do not watch
            }
        }, "watch-" + id);
        t.setDaemon(true);
        t.start();
        return events;
    }

    String metrics() throws IOException, InterruptedException {
        return cluster.tls().httpClient().build().send(HttpRequest.newBuilder(cluster.tls().url(cluster.brokerAddress(), "/q/metrics"))
                        .header("Authorization", "Bearer " + cluster.adminKey()).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    static double metric(String metrics, String line) {
        return metrics.lines().filter(l -> l.startsWith(line)).findFirst()
                .map(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).orElse(0.0);
    }

    static boolean finishedOk(JobAndTasks job) {
        return job.getJob().getState() == JobState.JOB_STATE_SUCCEEDED;
    }

    static String uniqueMarker() {
        return "spillway-it-" + UUID.randomUUID();
    }

    @Override
    public void close() {
        Spillway.close(channel);
        cluster.close();
    }
}
