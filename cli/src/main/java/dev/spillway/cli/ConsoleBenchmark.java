package dev.spillway.cli;

import dev.spillway.api.agent.v1.AgentServiceGrpc;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
import dev.spillway.api.agent.v1.Report;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.NodeServiceGrpc;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.TaskTemplate;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The web console under load: a fresh broker (embedded PostgreSQL) with one real agent and
 * {@code --nodes} more connected over the agent protocol by this process, {@code --jobs} jobs in
 * the database (queued, cancelled, and a few run for real), then each console page fetched
 * one request at a time as a signed-in admin and timed from request to last byte (p50, p95).
 * Then the broker's CPU with one console's overview open (its live part fetched every refresh
 * interval, as the page does), against the same time with no console.
 */
@Command(name = "console", description = "Console page times with 10,000 jobs and 100 nodes, and the broker CPU an open overview costs.")
final class ConsoleBenchmark implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--jobs", defaultValue = "10000", description = "Jobs in the database (default ${DEFAULT-VALUE}).")
    int jobCount;

    @Option(names = "--nodes", defaultValue = "100", description = "Nodes connected besides the real agent (default ${DEFAULT-VALUE}).")
    int nodeCount;

    @Option(names = "--requests", defaultValue = "200", description = "Timed requests per page (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--cpu-seconds", defaultValue = "60", description = "Length of each CPU measurement (default ${DEFAULT-VALUE}).")
    int cpuSeconds;

    private static final Pattern NONCE = Pattern.compile("name=\"_csrf\" value=\"([^\"]+)\"");

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean insecure = ((Spillway) spec.root().userObject()).insecure;
        Path dir = Files.createTempDirectory("spillway-bench-console-");
        ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor();
        // The simulated nodes have a pool of their own, so that the jobs meant to run go to the real agent.
        Map<String, String> pools = Map.of("spillway.pools.onprem.kind", "on-prem", "spillway.pools.sim.kind", "on-prem");
        try (LocalCluster cluster = SubmitBenchmark.cluster(dir, 1, insecure, "4", "8Gi", pools)) {
            ManagedChannel channel = cluster.channel();
            List<Runnable> closers = new ArrayList<>();
            try {
                connectNodes(cluster, NodeServiceGrpc.newBlockingStub(channel), heartbeats, closers);
                String sample = fill(JobServiceGrpc.newBlockingStub(channel), out);
                HttpClient http = cluster.tls().httpClient().connectTimeout(Duration.ofSeconds(10)).build();
                String base = cluster.tls().scheme() + "://" + cluster.brokerAddress();
                String cookie = signIn(http, base, cluster.adminKey());

                Map<String, String> pages = new LinkedHashMap<>();
                pages.put("overview", "/console/");
                pages.put("live", "/console/overview/live");
                pages.put("jobs", "/console/jobs");
                pages.put("jobs_queued", "/console/jobs?state=queued");
                pages.put("job", "/console/jobs/" + sample);
                pages.put("costs", "/console/costs?range=30d");
                pages.put("policies", "/console/policies");
                StringBuilder result = new StringBuilder("RESULT console jobs=" + jobCount + " nodes=" + (nodeCount + 1));
                for (var page : pages.entrySet()) {
                    Histogram h = time(http, base + page.getValue(), cookie);
                    out.printf(Locale.ROOT, "%-12s p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms  (%d requests)%n", page.getKey(),
                            h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(95) / 1000.0, h.getMaxValue() / 1000.0, h.getTotalCount());
                    result.append(String.format(Locale.ROOT, " %s_p95_ms=%.1f", page.getKey(), h.getValueAtPercentile(95) / 1000.0));
                }
                out.flush();

                long pid = cluster.broker().pid();
                double idle = cpuPercent(pid, cpuSeconds, null);
                double open = cpuPercent(pid, cpuSeconds, () -> get(http, base + "/console/overview/live", cookie));
                out.printf(Locale.ROOT, "broker cpu over %d s: %.2f %% of a core with no console, %.2f %% with one overview open (live part every 2 s)%n",
                        cpuSeconds, idle, open);
                result.append(String.format(Locale.ROOT, " idle_cpu_percent=%.2f overview_cpu_percent=%.2f per_console_cpu_percent=%.2f",
                        idle, open, Math.max(0, open - idle)));
                out.println(result);
                return Spillway.OK;
            } finally {
                closers.forEach(Runnable::run);
                heartbeats.shutdownNow();
                Spillway.close(channel);
            }
        } finally {
            SubmitBenchmark.deleteTree(dir);
        }
    }

    /** {@code --nodes} nodes that join with one-time tokens and keep their leases with empty reports; they run nothing they are given. */
    private void connectNodes(LocalCluster cluster, NodeServiceGrpc.NodeServiceBlockingStub nodes, ScheduledExecutorService heartbeats,
                              List<Runnable> closers) {
        for (int i = 0; i < nodeCount; i++) {
            String name = "sim-" + i;
            String token = nodes.createJoinToken(dev.spillway.api.v1.CreateJoinTokenRequest.newBuilder().setNodeName(name).setPool("sim")
                    .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(600)).build()).getToken();
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
            ManagedChannel ch = cluster.tls().nettyChannelBuilder(cluster.brokerAddress()).intercept(MetadataUtils.newAttachHeadersInterceptor(headers)).build();
            StreamObserver<ConnectRequest> requests = AgentServiceGrpc.newStub(ch).connect(new StreamObserver<>() {
                @Override
                public void onNext(ConnectResponse value) {
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                }
            });
            // The first carries the label the waiting jobs ask for, and drains: they are admitted, and wait.
            Register.Builder register = Register.newBuilder().setNodeName(name).setPool("sim")
                    .setCapacity(Resources.newBuilder().setCpuMillis(16_000).setMemoryMib(65_536)).putLabels("rack", "r" + i % 10);
            if (i == 0) register.putLabels("bench", "hold").setDraining(true);
            requests.onNext(ConnectRequest.newBuilder().setRegister(register).build());
            var beat = heartbeats.scheduleAtFixedRate(() -> {
                synchronized (requests) {
                    requests.onNext(ConnectRequest.newBuilder().setReport(Report.newBuilder().setDraining(name.equals("sim-0"))).build());
                }
            }, 1, 1, TimeUnit.SECONDS);
            closers.add(() -> {
                beat.cancel(false);
                synchronized (requests) {
                    requests.onCompleted();
                }
                ch.shutdownNow();
            });
        }
    }

    /** The jobs: a few run for real on the agent, the rest wait for the one node that has their label, which drains; half of those are cancelled. The id of a job that ran. */
    private String fill(JobServiceGrpc.JobServiceBlockingStub jobs, PrintWriter out) throws InterruptedException {
        long start = System.nanoTime();
        List<String> ran = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ran.add(jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(JobSpec.newBuilder().setName("ran-" + i).setTaskCount(4).putLabels("team", "t" + i % 4)
                    .setTask(TaskTemplate.newBuilder().addCommand("/bin/sh").addCommand("-c").addCommand("echo task $SPILLWAY_TASK_INDEX").addPools("onprem")
                            .setResources(Resources.newBuilder().setCpuMillis(500).setMemoryMib(128)))).build()).getUid());
        }
        List<String> waiting = new ArrayList<>();
        for (int i = 0; i < jobCount - ran.size(); i++) {
            waiting.add(jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(JobSpec.newBuilder().setName("wait-" + i).setTaskCount(1 + i % 5)
                    .setTenant("default").putLabels("team", "t" + i % 4)
                    .setTask(TaskTemplate.newBuilder().addCommand("true").putNodeSelector("bench", "hold")
                            .setResources(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(256)))).build()).getUid());
        }
        for (int i = 0; i < waiting.size(); i += 2) jobs.cancelJob(CancelJobRequest.newBuilder().setName(waiting.get(i)).build());
        String sample = ran.get(0);
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (!jobs.getJob(dev.spillway.api.v1.GetJobRequest.newBuilder().setName(ran.get(ran.size() - 1)).build()).hasFinishTime()) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("the jobs that run for real did not finish in 5 minutes");
            Thread.sleep(200);
        }
        out.printf(Locale.ROOT, "%,d jobs stored (%d run, %,d waiting, %,d cancelled) and %d nodes connected in %.1f s%n", jobCount, ran.size(),
                waiting.size() - (waiting.size() + 1) / 2, (waiting.size() + 1) / 2, nodeCount + 1, (System.nanoTime() - start) / 1e9);
        out.flush();
        return sample;
    }

    /** Signs in as the console's users do (the form's token and cookie, then the key); the session cookie. */
    private static String signIn(HttpClient http, String base, String key) throws IOException, InterruptedException {
        HttpResponse<String> form = http.send(HttpRequest.newBuilder(URI.create(base + "/console/login")).build(), HttpResponse.BodyHandlers.ofString());
        Matcher nonce = NONCE.matcher(form.body());
        if (!nonce.find()) throw new IllegalStateException("no sign-in form at " + base + "/console/login (HTTP " + form.statusCode() + ")");
        String loginCookie = cookie(form, "spillway_console_login");
        String body = "key=" + URLEncoder.encode(key, StandardCharsets.UTF_8) + "&_csrf=" + URLEncoder.encode(nonce.group(1), StandardCharsets.UTF_8)
                + "&next=%2Fconsole%2F";
        HttpResponse<String> signedIn = http.send(HttpRequest.newBuilder(URI.create(base + "/console/login")).header("Origin", base)
                .header("Cookie", "spillway_console_login=" + loginCookie).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (signedIn.statusCode() != 303) throw new IllegalStateException("sign-in refused: HTTP " + signedIn.statusCode());
        return "spillway_console=" + cookie(signedIn, "spillway_console");
    }

    private static String cookie(HttpResponse<?> response, String name) {
        for (String set : response.headers().allValues("set-cookie")) {
            if (set.startsWith(name + "=")) return set.substring(name.length() + 1, set.indexOf(';') < 0 ? set.length() : set.indexOf(';'));
        }
        throw new IllegalStateException("no cookie " + name + " in the answer");
    }

    private Histogram time(HttpClient http, String url, String cookie) throws IOException, InterruptedException {
        for (int i = 0; i < 20; i++) get(http, url, cookie);
        Histogram h = new Histogram(60_000_000L, 3);
        for (int i = 0; i < requests; i++) {
            long t0 = System.nanoTime();
            get(http, url, cookie);
            h.recordValue(Math.max(1, (System.nanoTime() - t0) / 1000));
        }
        return h;
    }

    private static void get(HttpClient http, String url, String cookie) {
        try {
            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url)).header("Cookie", cookie).build(), HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() != 200) throw new IllegalStateException(url + " answered HTTP " + r.statusCode() + ": " + new String(r.body(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The broker process's CPU over {@code seconds}, as a percentage of one core, while {@code poll} runs every 2 s (none: idle). */
    private static double cpuPercent(long pid, int seconds, Runnable poll) throws IOException, InterruptedException {
        long ticksBefore = cpuTicks(pid);
        long t0 = System.nanoTime();
        long end = t0 + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end) {
            if (poll != null) poll.run();
            Thread.sleep(Math.min(2000, Math.max(0, (end - System.nanoTime()) / 1_000_000)));
        }
        long ticks = cpuTicks(pid) - ticksBefore;
        double elapsed = (System.nanoTime() - t0) / 1e9;
        return ticks / 100.0 / elapsed * 100;
    }

    /** utime + stime of a process, in clock ticks (1/100 s on Linux). */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
