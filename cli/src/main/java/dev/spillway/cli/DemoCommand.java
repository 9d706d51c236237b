package dev.spillway.cli;

import com.google.protobuf.Timestamp;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.InstanceState;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.TaskTemplate;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code spillway demo}: on-prem fills, work spills to two simulated clouds priced like
 * aws:eu-central-1 and azure:westeurope, and the cloud capacity goes away when idle. Everything
 * runs for real on this machine: the broker, its embedded PostgreSQL, agent processes for the
 * on-prem pool and for every cloud instance.
 */
@Command(name = "demo", description = "Burst demo: on-prem agents plus two local clouds (aws-eu, azure-we); prints decisions and a summary.")
final class DemoCommand implements Callable<Integer> {

    @ParentCommand
    Spillway root;

    @Spec
    CommandSpec spec;

    @Option(names = "--tasks", defaultValue = "200", description = "Tasks in the burst workload (default ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--task-seconds", defaultValue = "20", description = "How long each task runs (default ${DEFAULT-VALUE}).")
    int taskSeconds;

    @Option(names = "--data", description = "Data directory (default: a new temporary one).")
    Path data;

    @Option(names = "--max-instances", defaultValue = "6", description = "Most instances per cloud pool (default ${DEFAULT-VALUE}).")
    int maxInstances;

    private static final int ON_PREM_AGENTS = 2;
    private static final int ON_PREM_CPUS = 2;

    @Override
    public Integer call() throws Exception {
        boolean human = root.output == Output.Format.TABLE;
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter log = human ? out : spec.commandLine().getErr();
        LocalCluster.Options o = new LocalCluster.Options();
        o.dataDir = data != null ? data.toAbsolutePath() : Files.createTempDirectory("spillway-demo-");
        o.port = LocalCluster.freePort();
        o.agents = ON_PREM_AGENTS;
        o.agentCpu = Integer.toString(ON_PREM_CPUS);
        o.agentMemory = "4Gi";
        Map<String, String> b = o.brokerProperties;
        b.put("spillway.burst-interval", "1s");
        b.put("spillway.pools.onprem.kind", "on-prem");
        cloud(b, "aws-eu", "aws-eu-central-1");
        cloud(b, "azure-we", "azure-westeurope");

        log.printf("starting the broker (embedded PostgreSQL in %s), %d on-prem agents of %d cpu, and two local clouds:%n",
                o.dataDir, ON_PREM_AGENTS, ON_PREM_CPUS);
        log.println("  aws-eu   priced like AWS eu-central-1   (bundled list prices, spot and on-demand)");
        log.println("  azure-we priced like Azure westeurope  (bundled list prices, spot and on-demand)");
        log.flush();
        try (LocalCluster cluster = new LocalCluster(o).start()) {
            ManagedChannel channel = cluster.channel();
            try {
                return run(channel, log, out, human);
            } finally {
                Spillway.close(channel);
            }
        }
    }

    private void cloud(Map<String, String> b, String pool, String catalog) {
        String p = "spillway.pools." + pool + ".";
        b.put(p + "kind", "local");
        b.put(p + "catalog", catalog);
        b.put(p + "max-nodes", Integer.toString(maxInstances));
        b.put(p + "burst-after", "5s");
        b.put(p + "scale-down-after", "10s");
        b.put(p + "boot-delay", "3s");
    }

    private int run(ManagedChannel channel, PrintWriter log, PrintWriter out, boolean human) throws InterruptedException {
        var jobs = JobServiceGrpc.newBlockingStub(channel);
        var pools = PoolServiceGrpc.newBlockingStub(channel);
        JobSpec spec = JobSpec.newBuilder().setName("burst-demo").setTenant("demo").setTaskCount(tasks)
                .setTask(TaskTemplate.newBuilder().addCommand("/bin/sh").addCommand("-c")
                        .addCommand("echo \"task $SPILLWAY_TASK_INDEX on $(hostname)\"; sleep " + taskSeconds)
                        .setResources(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(1024)).setSpotTolerant(true)
                        .setExpectedRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(taskSeconds))
                        .setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(Math.max(60, 10L * taskSeconds))))
                .build();
        // The agents connect after the broker is up: quote once they have, as a user would.
        var nodes = dev.spillway.api.v1.NodeServiceGrpc.newBlockingStub(channel);
        for (long until = System.nanoTime() + 30_000_000_000L; System.nanoTime() < until; Thread.sleep(200)) {
            long ready = Listings.nodes(nodes.getChannel(), null).stream()
                    .filter(n -> n.getState() == dev.spillway.api.v1.NodeState.NODE_STATE_READY).count();
            if (ready >= ON_PREM_AGENTS) break;
        }
        var quote = jobs.estimateJob(dev.spillway.api.v1.EstimateJobRequest.newBuilder().setSpec(spec).build());
        log.printf(Locale.ROOT, "quoted: %s; expected cost %.5f USD, not to exceed %.5f USD%n", quoteSummary(quote),
                Usd.dollars(quote.getExpectedCost()), Usd.dollars(quote.getNotToExceedCost()));
        String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()).getUid();
        log.printf("submitted job %s: %d tasks of 1 cpu / 1 GiB, %d s each (at most %d s), spot-tolerant%n%n", id, tasks, taskSeconds,
                spec.getTask().getMaxRuntime().getSeconds());
        log.flush();

        Map<String, String> seenState = new HashMap<>();
        String lastProgress = "";
        dev.spillway.api.v1.Job job;
        List<CloudInstance> instances;
        while (true) {
            job = jobs.getJob(GetJobRequest.newBuilder().setName(id).build());
            instances = Listings.instances(pools.getChannel(), null, List.of());
            for (CloudInstance i : instances) {
                String state = Output.state(i.getState(), "INSTANCE_STATE_");
                String before = seenState.put(i.getNode(), state);
                if (state.equals(before)) continue;
                String what = switch (state) {
                    case "REQUESTED", "PROVISIONING" -> before == null ? "burst decision: " + i.getDecision() : null;
                    case "JOINED" -> "joined: booted and registered";
                    case "DRAINING" -> "draining: " + i.getReason();
                    case "TERMINATED" -> String.format(Locale.ROOT, "terminated (%s), cost %.5f USD", i.getReason(), Usd.dollars(i.getCost()));
                    case "FAILED" -> "failed: " + i.getReason();
                    default -> null;
                };
                if (what != null) log.printf("%s  %-17s %-9s %s%n", clock(), i.getNode(), i.getPool(), what);
            }
            String progress = progress(job);
            if (!progress.equals(lastProgress)) {
                log.printf("%s  tasks: %s%n", clock(), progress);
                lastProgress = progress;
            }
            log.flush();
            boolean cloudGone = instances.stream().allMatch(i -> i.getState() == InstanceState.INSTANCE_STATE_TERMINATED
                    || i.getState() == InstanceState.INSTANCE_STATE_FAILED);
            if (job.hasFinishTime() && cloudGone) break;
            Thread.sleep(1000); // a human-paced progress display
        }

        Summary s = summarize(new JobAndTasks(job, JobCommands.tasks(jobs, id, Integer.MAX_VALUE, List.of())), instances);
        if (human) {
            out.println();
            out.println("summary");
            out.printf("  tasks per pool:              %s%n", s.tasksByPool());
            out.printf(Locale.ROOT, "  makespan:                    %.0f s%n", s.makespanSeconds());
            out.printf(Locale.ROOT, "  makespan without bursting:   %.0f s (the same task run times on the %d on-prem cpus alone)%n",
                    s.makespanWithoutBurstSeconds(), ON_PREM_AGENTS * ON_PREM_CPUS);
            out.printf(Locale.ROOT, "  cloud cost:                  %.5f USD (each instance's billed lifetime x its price: per started second, at least a minute)%n", s.cloudCostUsd());
            out.printf("  instances launched:          %d, terminated: %d%n", s.instancesLaunched(), s.instancesTerminated());
            out.printf(Locale.ROOT, "  quoted before submitting:    %.5f USD expected (%+.0f%% off), %.5f USD not to exceed%n",
                    Usd.dollars(quote.getExpectedCost()), s.cloudCostUsd() == 0 ? 0 : (Usd.dollars(quote.getExpectedCost()) / s.cloudCostUsd() - 1) * 100,
                    Usd.dollars(quote.getNotToExceedCost()));
        } else {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("jobId", id);
            json.put("tasksByPool", s.tasksByPool());
            json.put("makespanSeconds", s.makespanSeconds());
            json.put("makespanWithoutBurstSeconds", s.makespanWithoutBurstSeconds());
            json.put("cloudCostUsd", s.cloudCostUsd());
            json.put("instancesLaunched", s.instancesLaunched());
            json.put("instancesTerminated", s.instancesTerminated());
            json.put("quotedUsd", Usd.dollars(quote.getExpectedCost()));
            json.put("quotedNotToExceedUsd", Usd.dollars(quote.getNotToExceedCost()));
            if (root.output == Output.Format.JSON) out.println(Json.write(json));
            else out.print(new org.yaml.snakeyaml.Yaml().dumpAsMap(json));
        }
        out.flush();
        return job.getState() == dev.spillway.api.v1.JobState.JOB_STATE_SUCCEEDED ? Spillway.OK : Spillway.ERROR;
    }

    private static String quoteSummary(dev.spillway.api.v1.EstimateJobResponse q) {
        List<String> parts = new java.util.ArrayList<>();
        q.getPlacedNowMap().forEach((pool, n) -> parts.add(n + " on " + pool + " now"));
        for (var p : q.getPurchasesList()) parts.add(p.getTasks() + " on " + p.getInstances() + " new " + p.getInstanceType() + (p.getSpot() ? " spot" : "") + " in " + p.getPool());
        if (q.getWaiting() > 0) parts.add(q.getWaiting() + " waiting");
        return String.join(", ", parts);
    }

    record Summary(Map<String, Integer> tasksByPool, double makespanSeconds, double makespanWithoutBurstSeconds, double cloudCostUsd,
                   int instancesLaunched, int instancesTerminated) {
    }

    static Summary summarize(JobAndTasks job, List<CloudInstance> instances) {
        Map<String, String> poolOfNode = new HashMap<>();
        instances.forEach(i -> poolOfNode.put(i.getNode(), i.getPool()));
        Map<String, Integer> byPool = new TreeMap<>();
        double busySeconds = 0;
        for (Task t : job.getTasksList()) {
            if (t.getState() != TaskState.TASK_STATE_SUCCEEDED) continue;
            byPool.merge(poolOfNode.getOrDefault(t.getNode(), "onprem"), 1, Integer::sum);
            busySeconds += seconds(t.getFinishTime()) - seconds(t.getStartTime());
        }
        double makespan = seconds(job.getJob().getFinishTime()) - seconds(job.getJob().getCreateTime());
        double cost = instances.stream().mapToLong(i -> Usd.micros(i.getCost())).sum() / 1e6;
        int launched = (int) instances.stream().filter(i -> i.hasLaunchTime()).count();
        int terminated = (int) instances.stream().filter(i -> i.getState() == InstanceState.INSTANCE_STATE_TERMINATED).count();
        return new Summary(byPool, Math.round(makespan * 10) / 10.0, Math.round(busySeconds / (ON_PREM_AGENTS * ON_PREM_CPUS) * 10) / 10.0,
                cost, launched, terminated);
    }

    private static double seconds(Timestamp t) {
        return t.getSeconds() + t.getNanos() / 1e9;
    }

    private static String progress(dev.spillway.api.v1.Job job) {
        return Output.counts(job.getTaskCountsMap());
    }

    private static String clock() {
        return java.time.LocalTime.now().withNano(0).toString();
    }

    /** A minimal JSON writer for the flat summary. */
    static final class Json {
        private Json() {}

        static String write(Object v) {
            if (v instanceof Map<?, ?> m) {
                StringBuilder sb = new StringBuilder("{");
                String sep = "";
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    sb.append(sep).append('"').append(e.getKey()).append("\":").append(write(e.getValue()));
                    sep = ",";
                }
                return sb.append('}').toString();
            }
            if (v instanceof String s) return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
            return String.valueOf(v);
        }
    }
}
