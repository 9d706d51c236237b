package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.ListInstancesRequest;
import dev.spillway.api.v1.PoolServiceGrpc;
import dev.spillway.api.v1.Task;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
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
                double cost = instances.stream().mapToDouble(CloudInstance::getCostUsd).sum();
                assertThat((Double) summary.get("cloudCostUsd")).isCloseTo(cost, org.assertj.core.data.Offset.offset(1e-9));
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
            } finally {
                Spillway.close(channel);
            }
        }
    }
}
