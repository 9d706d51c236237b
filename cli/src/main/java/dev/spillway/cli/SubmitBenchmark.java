package dev.spillway.cli;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskTemplate;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Durable submission over gRPC on loopback against a freshly started broker on embedded
 * PostgreSQL (its own temporary data directory), then submission-to-placement latency with free
 * capacity on a second fresh broker with one large agent.
 */
@Command(name = "submit", description = "SubmitJob throughput and latency, and submission-to-placement latency, on a fresh local broker.")
final class SubmitBenchmark implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--jobs", defaultValue = "20000", description = "Single-task jobs to submit (default ${DEFAULT-VALUE}).")
    int jobs;

    @Option(names = "--concurrency", defaultValue = "32", description = "Submissions in flight (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--array-jobs", defaultValue = "200", description = "1,000-task jobs to submit (default ${DEFAULT-VALUE}).")
    int arrayJobs;

    @Option(names = "--placement-jobs", defaultValue = "300", description = "Jobs timed from submission to placement (default ${DEFAULT-VALUE}).")
    int placementJobs;

    @Option(names = "--warm-up-rounds", defaultValue = "15", description = "At most this many rounds of 5,000 single-task jobs before "
            + "the measured ones, ending when two rounds in a row are each within 5 %% of the one before; 0 measures a cold broker "
            + "(default ${DEFAULT-VALUE}).")
    int warmUpRounds;

    @Option(names = "--broker-jvm-options", description = "JVM options of the broker the submissions go to (default -Xmx1g), e.g. to record a profile.")
    String brokerJvmOptions = "-Xmx1g";

    @Option(names = "--admission-rules", defaultValue = "0", description = "Apply a policy of this many admission rules first (each reads "
            + "the job's labels, priority and resources; none matches the benchmark's jobs), to measure what they add to a submission "
            + "(default ${DEFAULT-VALUE}).")
    int admissionRules;

    @Option(names = "--budget-tenants", defaultValue = "10", description = "Then submit the single-task jobs again, spread over this many "
            + "tenants with hard budgets (each job reserves its not-to-exceed cost in the statement that stores it); 0 skips it "
            + "(default ${DEFAULT-VALUE}).")
    int budgetTenants;

    private boolean insecure;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        insecure = ((Spillway) spec.root().userObject()).insecure;
        Path dir = Files.createTempDirectory("spillway-bench-");
        try {
            Stats single;
            Stats array;
            Stats budgeted = null;
            try (LocalCluster cluster = cluster(dir.resolve("submit"), 0)) {
                out.println("broker started on " + cluster.brokerAddress() + " (embedded PostgreSQL, no agents: nothing is placed; "
                        + (insecure ? "plaintext" : "TLS") + ", calls with an API key; the tenant's submission rate limit is lifted: "
                        + "this measures the broker, not the policy)");
                ManagedChannel channel = cluster.channel();
                try {
                    var stub = JobServiceGrpc.newFutureStub(channel);
                    if (admissionRules > 0) {
                        var applied = dev.spillway.api.v1.PolicyServiceGrpc.newBlockingStub(channel).applyPolicies(
                                dev.spillway.api.v1.ApplyPoliciesRequest.newBuilder().addFiles(dev.spillway.api.v1.PolicyFile.newBuilder()
                                        .setName("bench-admission.yaml").setText(admissionPolicy(admissionRules))).build());
                        out.printf("policy version %d in force: %d admission rules%n", applied.getVersion().getVersion(),
                                applied.getVersion().getAdmissionRules());
                    }
                    warmUp(stub, out);
                    single = submit(stub, spec(1, "true"), jobs, concurrency);
                    out.printf(Locale.ROOT, "single-task jobs: %d in %.2f s = %.0f jobs/s, p50 %.1f ms, p99 %.1f ms%n", jobs,
                            single.seconds, jobs / single.seconds, single.p50Millis(), single.p99Millis());
                    if (budgetTenants > 0) {
                        var budgetsStub = dev.spillway.api.v1.BudgetServiceGrpc.newBlockingStub(channel);
                        List<JobSpec> specs = new ArrayList<>();
                        for (int t = 0; t < budgetTenants; t++) {
                            budgetsStub.setBudget(dev.spillway.api.v1.SetBudgetRequest.newBuilder().setBudget(dev.spillway.api.v1.Budget.newBuilder()
                                    .setName("bench-" + t).setTenant("bench-" + t).setLimit(dev.spillway.api.Usd.ofMicros(1_000_000_000_000L)).setHard(true).setOnPrem(true)).build());
                            JobSpec.Builder b = spec(1, "true").toBuilder().setTenant("bench-" + t);
                            b.getTaskBuilder().setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(3600));
                            specs.add(b.build());
                        }
                        submit(stub, specs, 5000, concurrency); // the budget path's own warm-up
                        budgeted = submit(stub, specs, jobs, concurrency);
                        out.printf(Locale.ROOT, "single-task jobs of %d tenants with hard budgets: %d in %.2f s = %.0f jobs/s, p50 %.1f ms, p99 %.1f ms%n",
                                budgetTenants, jobs, budgeted.seconds, jobs / budgeted.seconds, budgeted.p50Millis(), budgeted.p99Millis());
                    }
                    array = submit(stub, spec(1000, "true"), arrayJobs, 4);
                    out.printf(Locale.ROOT, "1,000-task jobs: %d in %.2f s = %.0f tasks/s, p50 %.1f ms, p99 %.1f ms%n", arrayJobs,
                            array.seconds, arrayJobs * 1000 / array.seconds, array.p50Millis(), array.p99Millis());
                } finally {
                    Spillway.close(channel);
                }
            }
            Histogram placement = placement(dir.resolve("placement"), out);
            out.println(String.format(Locale.ROOT,
                    "RESULT submit single_jobs_per_sec=%.0f single_p50_ms=%.1f single_p99_ms=%.1f array_tasks_per_sec=%.0f array_p99_ms=%.1f placement_p50_ms=%.1f placement_p99_ms=%.1f admission_rules=%d%s",
                    jobs / single.seconds, single.p50Millis(), single.p99Millis(), arrayJobs * 1000 / array.seconds, array.p99Millis(),
                    placement.getValueAtPercentile(50) / 1000.0, placement.getValueAtPercentile(99) / 1000.0, admissionRules,
                    budgeted == null ? "" : String.format(Locale.ROOT, " budget_jobs_per_sec=%.0f budget_p99_ms=%.1f budget_tenants=%d",
                            jobs / budgeted.seconds, budgeted.p99Millis(), budgetTenants)));
            out.flush();
            return Spillway.OK;
        } finally {
            deleteTree(dir);
        }
    }

    /**
     * A policy of {@code rules} admission rules of the kinds FinOps teams write (a label and the
     * tenant, priority bands, resource ceilings, time of day), none of which matches the
     * benchmark's jobs: every rule is evaluated for every submission, and none refuses it.
     */
    static String admissionPolicy(int rules) {
        StringBuilder b = new StringBuilder("apiVersion: spillway.dev/v1\nkind: Policy\nmetadata: {name: bench}\nspec:\n  admission:\n");
        for (int i = 0; i < rules; i++) {
            String match = switch (i % 4) {
                case 0 -> "'\"cost-center\" in job.labels && job.labels[\"cost-center\"] == \"cc-" + i + "\" && job.tenant != \"bench\"'";
                case 1 -> "job.priority > " + (1000 + i) + " && job.tasks > 100";
                case 2 -> "job.gpus > 8 && job.cpuMillis * job.tasks > " + (1_000_000 + i);
                default -> "job.tenant == \"sandbox-" + i + "\" && now.getHours() >= 20";
            };
            b.append("    - name: rule-").append(i).append("\n      match: ").append(match)
                    .append("\n      message: '\"rule ").append(i).append(" for \" + job.name'\n      action: Deny\n");
        }
        return b.toString();
    }

    /**
     * Submits rounds of jobs until the broker's rate settles: a fresh JVM compiles its hot paths
     * for the first tens of seconds (the JIT compiler alone takes a core's half here), and a
     * broker runs for days, so the figure that describes it is the warm one. Each round's rate is
     * printed, the first being the cold broker's.
     */
    private void warmUp(JobServiceGrpc.JobServiceFutureStub stub, PrintWriter out) throws InterruptedException {
        if (warmUpRounds <= 0) return;
        int round = 5000;
        List<String> rates = new ArrayList<>();
        double previous = 0;
        int steady = 0;
        for (int i = 0; i < warmUpRounds; i++) {
            double rate = round / submit(stub, spec(1, "true"), round, concurrency).seconds;
            rates.add(String.format(Locale.ROOT, "%.0f", rate));
            steady = i > 0 && Math.abs(rate - previous) <= 0.05 * previous ? steady + 1 : 0;
            if (steady == 2) break;
            previous = rate;
        }
        out.printf(Locale.ROOT, "warm-up: %d rounds of %d single-task jobs, jobs/s %s%n", rates.size(), round, String.join(", ", rates));
        submit(stub, spec(1000, "true"), 20, 4);
    }

    private LocalCluster cluster(Path data, int agents) {
        // On-prem work priced, so that the budgeted jobs' quotes have something to reserve.
        return cluster(data, agents, insecure, "64", "256Gi", Map.of("spillway.cost.rate-card.usd-per-cpu-hour", "0.05"), brokerJvmOptions);
    }

    /**
     * A fresh local broker on its own embedded PostgreSQL in {@code data}, with {@code agents}
     * agents of the given size, and the tenant's submission rate limit lifted (the benchmarks
     * measure the broker, not the policy).
     */
    static LocalCluster cluster(Path data, int agents, boolean insecure, String agentCpu, String agentMemory, Map<String, String> properties) {
        return cluster(data, agents, insecure, agentCpu, agentMemory, properties, "-Xmx1g");
    }

    static LocalCluster cluster(Path data, int agents, boolean insecure, String agentCpu, String agentMemory, Map<String, String> properties,
                                String jvmOptions) {
        LocalCluster.Options o = new LocalCluster.Options();
        o.brokerJvmOptions = jvmOptions;
        o.brokerProperties.putAll(properties);
        o.insecure = insecure;
        o.brokerProperties.put("spillway.limits.submit-rate", "1000000");
        o.brokerProperties.put("spillway.limits.submit-burst", "1000000");
        o.dataDir = data;
        o.port = LocalCluster.freePort();
        o.agents = agents;
        o.agentCpu = agentCpu;
        o.agentMemory = agentMemory;
        return new LocalCluster(o).start();
    }

    /** Time from submission (the job's create time) to placement (the task's assign time), both broker clock. */
    private Histogram placement(Path data, PrintWriter out) throws InterruptedException {
        Histogram h = new Histogram(3_600_000_000L, 3);
        try (LocalCluster cluster = cluster(data, 1, insecure, "64", "256Gi", Map.of())) {
            ManagedChannel channel = cluster.channel();
            try {
                var stub = JobServiceGrpc.newBlockingStub(channel);
                // Warm-up: the first placements of a fresh broker pay for class loading and JIT.
                for (int i = 0; i < 50; i++) {
                    stub.submitJob(SubmitJobRequest.newBuilder().setSpec(spec(1, "true")).build());
                    Thread.sleep(20);
                }
                List<String> ids = new ArrayList<>();
                for (int i = 0; i < placementJobs; i++) {
                    ids.add(stub.submitJob(SubmitJobRequest.newBuilder().setSpec(spec(1, "true")).build()).getUid());
                    Thread.sleep(20); // an open-loop trickle, so every job meets free capacity and an idle scheduler
                }
                for (String id : ids) {
                    dev.spillway.api.v1.Task task;
                    do {
                        task = JobCommands.tasks(stub, id, 1, List.of()).get(0);
                    } while (!task.hasAssignTime() && sleepBriefly());
                    var created = stub.getJob(GetJobRequest.newBuilder().setName(id).build()).getCreateTime();
                    var assigned = task.getAssignTime();
                    long micros = (assigned.getSeconds() - created.getSeconds()) * 1_000_000 + (assigned.getNanos() - created.getNanos()) / 1000;
                    h.recordValue(Math.max(0, micros));
                }
            } finally {
                Spillway.close(channel);
            }
        }
        out.printf(Locale.ROOT, "submission to placement (free capacity): %d jobs, p50 %.1f ms, p99 %.1f ms%n", placementJobs,
                h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0);
        return h;
    }

    private static boolean sleepBriefly() {
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        return true;
    }

    record Stats(Histogram latencyMicros, double seconds) {
        double p50Millis() {
            return latencyMicros.getValueAtPercentile(50) / 1000.0;
        }

        double p99Millis() {
            return latencyMicros.getValueAtPercentile(99) / 1000.0;
        }
    }

    private static Stats submit(JobServiceGrpc.JobServiceFutureStub stub, JobSpec spec, int count, int inFlight) throws InterruptedException {
        return submit(stub, List.of(spec), count, inFlight);
    }

    /** Submits {@code count} jobs, the i-th of {@code specs.get(i % size)}, at most {@code inFlight} at once. */
    private static Stats submit(JobServiceGrpc.JobServiceFutureStub stub, List<JobSpec> specs, int count, int inFlight) throws InterruptedException {
        Histogram h = new Histogram(3_600_000_000L, 3);
        Semaphore window = new Semaphore(inFlight);
        CountDownLatch done = new CountDownLatch(count);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<SubmitJobRequest> requests = specs.stream().map(sp -> SubmitJobRequest.newBuilder().setSpec(sp).build()).toList();
        long start = System.nanoTime();
        for (int i = 0; i < count && failure.get() == null; i++) {
            window.acquire();
            long sent = System.nanoTime();
            Futures.addCallback(stub.submitJob(requests.get(i % requests.size())), new FutureCallback<Job>() {
                @Override
                public void onSuccess(Job r) {
                    synchronized (h) {
                        h.recordValue((System.nanoTime() - sent) / 1000);
                    }
                    window.release();
                    done.countDown();
                }

                @Override
                public void onFailure(Throwable t) {
                    failure.compareAndSet(null, t);
                    window.release();
                    done.countDown();
                }
            }, MoreExecutors.directExecutor());
        }
        // After a failure no more are sent: wait for those in flight only.
        while (!done.await(100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
            if (failure.get() != null && window.availablePermits() == inFlight) break;
        }
        if (failure.get() != null) throw new IllegalStateException("a submission failed: " + failure.get(), failure.get());
        return new Stats(h, (System.nanoTime() - start) / 1e9);
    }

    static JobSpec spec(int tasks, String command) {
        return JobSpec.newBuilder().setName("bench").setTaskCount(tasks)
                .setTask(TaskTemplate.newBuilder().addCommand(command)
                        .setResources(Resources.newBuilder().setCpuMillis(100).setMemoryMib(64)))
                .build();
    }

    /** A benchmark run's data directory, kept ({@code --keep-data}: broker and agent logs, database) and named, or deleted. */
    static void keepOrDelete(Path dir, boolean keep, PrintWriter out) throws IOException {
        if (keep) {
            out.println("data directory kept: " + dir);
        } else {
            deleteTree(dir);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
