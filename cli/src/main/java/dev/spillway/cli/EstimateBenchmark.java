package dev.spillway.cli;

import dev.spillway.api.v1.EstimateJobRequest;
import dev.spillway.api.v1.EstimateJobResponse;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.TaskTemplate;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * EstimateJob latency for a large job, one call at a time, against a fresh local broker with
 * on-prem agents and two local clouds: each call places the job's tasks on the connected nodes
 * with the scheduler, has the burst planner buy for the rest, and prices both.
 */
@Command(name = "estimate", description = "EstimateJob latency for one large job on a fresh local broker with agents and two local clouds.")
final class EstimateBenchmark implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--tasks", defaultValue = "10000", description = "Tasks of the quoted job (default ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--calls", defaultValue = "300", description = "Measured calls, after as many to warm up (default ${DEFAULT-VALUE}).")
    int calls;

    @Option(names = "--agents", defaultValue = "4", description = "On-prem agents of 16 cpu (default ${DEFAULT-VALUE}).")
    int agents;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean insecure = ((Spillway) spec.root().userObject()).insecure;
        Path dir = Files.createTempDirectory("spillway-bench-estimate-");
        Map<String, String> clouds = new java.util.HashMap<>();
        for (String[] pool : new String[][] {{"aws-eu", "aws-eu-central-1"}, {"azure-we", "azure-westeurope"}}) {
            String p = "spillway.pools." + pool[0] + ".";
            clouds.put(p + "kind", "local");
            clouds.put(p + "catalog", pool[1]);
            clouds.put(p + "max-nodes", "100");
        }
        clouds.put("spillway.pools.onprem.kind", "on-prem");
        clouds.put("spillway.cost.rate-card.usd-per-cpu-hour", "0.03");
        try (LocalCluster cluster = SubmitBenchmark.cluster(dir, agents, insecure, "16", "64Gi", clouds)) {
            ManagedChannel channel = cluster.channel();
            try {
                var jobs = JobServiceGrpc.newBlockingStub(channel);
                var nodes = dev.spillway.api.v1.NodeServiceGrpc.newBlockingStub(channel);
                for (long until = System.nanoTime() + 60_000_000_000L; System.nanoTime() < until; Thread.sleep(200)) {
                    if (Listings.nodes(nodes.getChannel(), null).size() >= agents) break;
                }
                JobSpec job = JobSpec.newBuilder().setName("quoted").setTaskCount(tasks)
                        .setTask(TaskTemplate.newBuilder().addCommand("true").setSpotTolerant(true)
                                .setResources(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(2048))
                                .setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
                                .setExpectedRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(600)))
                        .build();
                EstimateJobRequest request = EstimateJobRequest.newBuilder().setSpec(job).build();
                EstimateJobResponse last = null;
                for (int i = 0; i < calls; i++) last = jobs.estimateJob(request);
                Histogram latency = new Histogram(3_600_000_000L, 3);
                for (int i = 0; i < calls; i++) {
                    long start = System.nanoTime();
                    last = jobs.estimateJob(request);
                    latency.recordValue((System.nanoTime() - start) / 1000);
                }
                int bought = last.getPurchasesList().stream().mapToInt(dev.spillway.api.v1.EstimatedPurchase::getInstances).sum();
                out.printf(Locale.ROOT, "quote of %d tasks: %d on nodes now, %d on %d new instances, %d waiting; expected %.2f USD, not to exceed %.2f USD%n",
                        tasks, last.getPlacedNowMap().values().stream().mapToInt(Integer::intValue).sum(), last.getBurst(), bought, last.getWaiting(),
                        dev.spillway.api.Usd.dollars(last.getExpectedCost()), dev.spillway.api.Usd.dollars(last.getNotToExceedCost()));
                out.printf(Locale.ROOT, "RESULT estimate tasks=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f%n", tasks,
                        latency.getValueAtPercentile(50) / 1000.0, latency.getValueAtPercentile(99) / 1000.0, latency.getMaxValue() / 1000.0);
                out.flush();
                return Spillway.OK;
            } finally {
                Spillway.close(channel);
            }
        }
    }
}
