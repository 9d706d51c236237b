package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.Task;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The demo, small: its JSON summary must match what actually ran, read back from the broker's
 * records afterwards (a broker restarted on the demo's data directory).
 */
class DemoIT {

    @Test
    void theDemoSummaryMatchesTheRecords() throws Exception {
        Path data = Files.createTempDirectory(Files.createDirectories(Path.of("target", "it").toAbsolutePath()), "demo-");
        StringWriter out = new StringWriter();
        var cmd = Spillway.commandLine();
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(new StringWriter()));
        int exit = cmd.execute("demo", "--tasks", "24", "--task-seconds", "6", "--max-instances", "2", "--data", data.toString(), "-o", "json");
        assertThat(exit).isZero();
        @SuppressWarnings("unchecked")
        Map<String, Object> summary = (Map<String, Object>) new Yaml().load(out.toString().trim());
        @SuppressWarnings("unchecked")
        Map<String, Integer> byPool = (Map<String, Integer>) summary.get("tasksByPool");
        assertThat(byPool.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(24);
        assertThat(byPool).containsKey("onprem");
        assertThat(byPool.keySet()).anyMatch(p -> !p.equals("onprem"));
        assertThat((Integer) summary.get("instancesLaunched")).isPositive().isEqualTo(summary.get("instancesTerminated"));

        LocalCluster.Options o = new LocalCluster.Options();
        o.home = Path.of(System.getProperty("spillway.home", "..")).toAbsolutePath();
        o.dataDir = data;
        o.port = LocalCluster.freePort();
        o.agents = 0;
        try (LocalCluster cluster = new LocalCluster(o)) {
            cluster.startBroker();
            var channel = cluster.channel();
            try {
                var instances = PoolServiceGrpc.newBlockingStub(channel).listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesList();
                double cost = instances.stream().mapToDouble(i -> dev.spillway.api.Usd.dollars(i.getCost())).sum();
                assertThat((Double) summary.get("cloudCostUsd")).isCloseTo(cost, org.assertj.core.data.Offset.offset(1e-9));
                // The quote made before submitting: within 10 % of what the demo then cost.
                assertThat((Double) summary.get("quotedUsd")).isCloseTo(cost, org.assertj.core.data.Percentage.withPercentage(10));
                assertThat((Double) summary.get("quotedNotToExceedUsd")).isGreaterThanOrEqualTo(cost);
                assertThat(instances).hasSize((Integer) summary.get("instancesLaunched"));

                var tasks = JobCommands.tasks(JobServiceGrpc.newBlockingStub(channel), (String) summary.get("jobId"), Integer.MAX_VALUE, List.of());
                Map<String, String> poolOf = new HashMap<>();
                instances.forEach(i -> poolOf.put(i.getNode(), i.getPool()));
                Map<String, Integer> ran = new TreeMap<>();
                for (Task t : tasks) ran.merge(poolOf.getOrDefault(t.getNode(), "onprem"), 1, Integer::sum);
                assertThat(ran).isEqualTo(new TreeMap<>(byPool));

                StringWriter explained = new StringWriter();
                var explain = Spillway.commandLine();
                explain.setOut(new PrintWriter(explained));
                assertThat(explain.execute("--broker", cluster.brokerAddress(), "--ca-file", BrokerTls.caFileIn(data).toString(),
                        "--token-file", data.resolve("admin-key").toString(), "explain", (String) summary.get("jobId"))).isZero();
                assertThat(explained.toString()).contains("SUCCEEDED on agent-").contains("burst because: ");

                // The ledger: the cloud pools' allocated and idle cost is the instances' charges, and so is the FOCUS export's.
                String[] asAdmin = {"--broker", cluster.brokerAddress(), "--ca-file", BrokerTls.caFileIn(data).toString(), "--token-file",
                        data.resolve("admin-key").toString()};
                String day = java.time.LocalDate.now(java.time.ZoneOffset.UTC).minusDays(1).toString();
                @SuppressWarnings("unchecked")
                Map<String, Object> report = (Map<String, Object>) new Yaml().load(cli(asAdmin, "cost", "--by", "pool", "--since", "2d", "-o", "json"));
                @SuppressWarnings("unchecked")
                List<Map<String, Object>> groups = (List<Map<String, Object>>) report.get("groups");
                long cloudMicro = groups.stream().filter(g -> !g.get("key").equals("onprem"))
                        .mapToLong(g -> money(g.get("cloudCost")) + money(g.get("idleCost"))).sum();
                assertThat(cloudMicro / 1e6).isCloseTo(cost, org.assertj.core.data.Offset.offset(1e-9));
                assertThat(groups).filteredOn(g -> !g.get("key").equals("onprem"))
                        .anySatisfy(g -> assertThat(money(g.get("cloudCost"))).as("tasks' share of the instances").isPositive());
                String focus = cli(asAdmin, "cost", "export", "--format", "focus", "--from", day);
                List<List<String>> rows = csv(focus);
                int billed = rows.get(0).indexOf("BilledCost");
                int resourceType = rows.get(0).indexOf("ResourceType");
                java.math.BigDecimal exported = rows.stream().skip(1).filter(r -> r.get(resourceType).equals("Instance"))
                        .map(r -> new java.math.BigDecimal(r.get(billed))).reduce(java.math.BigDecimal.ZERO, java.math.BigDecimal::add);
                assertThat(exported.doubleValue()).as("FOCUS BilledCost of the instances").isCloseTo(cost, org.assertj.core.data.Offset.offset(1e-9));

                // The job kept the quote it was admitted with (the one the demo printed, made a moment before), shown beside its cost.
                String jobId = (String) summary.get("jobId");
                var kept = JobServiceGrpc.newBlockingStub(channel).getJob(dev.spillway.api.v1.GetJobRequest.newBuilder().setName(jobId).build()).getQuote();
                assertThat(dev.spillway.api.Usd.dollars(kept.getExpectedCost())).isCloseTo((Double) summary.get("quotedUsd"), org.assertj.core.data.Offset.offset(1e-6));
                assertThat(dev.spillway.api.Usd.dollars(kept.getNotToExceedCost()))
                        .isCloseTo((Double) summary.get("quotedNotToExceedUsd"), org.assertj.core.data.Offset.offset(1e-6));
                String costOfJob = cli(asAdmin, "cost", "--job", jobId);
                assertThat(costOfJob).contains(jobId).contains("Quoted at admission: expected " + CostCommands.Cost.usd(kept.getExpectedCost())
                        + " USD, not to exceed " + CostCommands.Cost.usd(kept.getNotToExceedCost()) + " USD");
            } finally {
                Spillway.close(channel);
            }
        }
    }

    private static String cli(String[] global, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cmd = Spillway.commandLine();
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(err));
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(global), java.util.Arrays.stream(args)).toArray(String[]::new);
        assertThat(cmd.execute(all)).as("spillway %s: %s", String.join(" ", args), err).isZero();
        return out.toString();
    }

    /** RFC 4180 records: quoted fields may hold commas and doubled quotes. */
    private static List<List<String>> csv(String text) {
        List<List<String>> out = new java.util.ArrayList<>();
        for (String line : text.split("\r\n")) {
            if (line.isEmpty()) continue;
            List<String> fields = new java.util.ArrayList<>();
            StringBuilder f = new StringBuilder();
            boolean quoted = false;
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                if (quoted && c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    f.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = !quoted;
                } else if (c == ',' && !quoted) {
                    fields.add(f.toString());
                    f.setLength(0);
                } else {
                    f.append(c);
                }
            }
            fields.add(f.toString());
            out.add(fields);
        }
        return out;
    }

    /** A google.type.Money as the CLI prints it in JSON ({"currencyCode": "USD", "units": "1", "nanos": 500000000}), in millionths. */
    @SuppressWarnings("unchecked")
    private static long money(Object json) {
        if (json == null) return 0;
        Map<String, Object> m = (Map<String, Object>) json;
        assertThat(m.get("currencyCode")).isEqualTo("USD");
        long units = m.get("units") == null ? 0 : Long.parseLong(m.get("units").toString());
        long nanos = m.get("nanos") == null ? 0 : ((Number) m.get("nanos")).longValue();
        return units * 1_000_000 + nanos / 1000;
    }
}
