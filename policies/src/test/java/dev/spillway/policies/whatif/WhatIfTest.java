package dev.spillway.policies.whatif;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.burst.CloudPoolSpec;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.sim.Simulation;
import dev.spillway.core.sim.SwfTrace;
import dev.spillway.policies.rules.CompileResult;
import dev.spillway.policies.rules.PolicyCompiler;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.rules.PoolFacts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * What-if replay of one workload under two policy sets: the candidate's rules show in the
 * report (refusals naming the rule, a tenant that no longer bursts, residency kept), and the same
 * inputs give the same report. On a generated trace always; on the NASA iPSC/860 log too where
 * the shared traces folder is present.
 */
class WhatIfTest {

    /** A tenant kept in the EU (%1$s); one that may not submit jobs wider than 8 tasks (%2$s); one that never bursts (%3$s). */
    static final String CANDIDATE = """
            apiVersion: spillway.dev/v1
            kind: Tenant
            metadata: {name: %1$s}
            spec: {jurisdictions: [EU]}
            ---
            apiVersion: spillway.dev/v1
            kind: Policy
            metadata: {name: finops}
            spec:
              admission:
                - name: narrow-jobs
                  match: job.tenant == "%2$s" && job.tasks > 8
                  message: '"%2$s submits jobs of at most 8 tasks"'
                  action: Deny
              burst:
                - name: stays-home
                  match: job.tenant == "%3$s"
                  deny: "true"
                  message: '"%3$s does not burst"'
            """;

    static PolicySet compile(String yaml) {
        CompileResult r = new PolicyCompiler().compile("candidate.yaml", yaml);
        assertThat(r.problems()).isEmpty();
        return r.policySet();
    }

    /** 16 one-cpu on-prem nodes in the EU; cloud pools in the EU and the US. */
    static WhatIf.Cluster cluster(int onPremNodes) {
        List<NodeView> nodes = new ArrayList<>();
        for (int i = 1; i <= onPremNodes; i++) {
            nodes.add(new NodeView(String.format(Locale.ROOT, "agent-%04d", i), "onprem", new Resources(1000, 4096, 0), Resources.ZERO,
                    Map.of(), true));
        }
        return new WhatIf.Cluster(nodes, List.of(cloud("aws-eu", "EU", "eu-central-1", 0.096), cloud("aws-us", "US", "us-east-1", 0.090)),
                Map.of("onprem", new PoolFacts("onprem", "on-prem", "dc1", "EU", 0),
                        "aws-eu", new PoolFacts("aws-eu", "aws", "eu-central-1", "EU", 0),
                        "aws-us", new PoolFacts("aws-us", "aws", "us-east-1", "US", 0)));
    }

    static Simulation.CloudPool cloud(String name, String jurisdiction, String region, double price) {
        CloudPoolSpec spec = new CloudPoolSpec(name, jurisdiction, 0, 16, Double.POSITIVE_INFINITY, Set.of(), Duration.ofSeconds(30),
                Duration.ofSeconds(60), Duration.ofMinutes(5), Duration.ofMinutes(3), 3);
        String zone = region + "a";
        List<Offering> offerings = List.of(
                new Offering(Offering.id(name, zone, "m6i.large", false), name, region, zone, jurisdiction, "m6i.large",
                        new Resources(2000, 8192, 0), false, price),
                new Offering(Offering.id(name, zone, "m6i.xlarge", false), name, region, zone, jurisdiction, "m6i.xlarge",
                        new Resources(4000, 16384, 0), false, 2 * price));
        return new Simulation.CloudPool(spec, offerings, Duration.ofSeconds(60), Duration.ofSeconds(90));
    }

    /** 240 jobs of users 1 to 3 over four hours, 1 to 16 tasks of 2 to 30 minutes: more than 16 cpus at times. */
    static List<SwfTrace.TraceJob> generated() {
        Random r = new Random(7);
        StringBuilder swf = new StringBuilder("; MaxProcs: 16\n");
        long submit = 0;
        for (int i = 1; i <= 240; i++) {
            submit += r.nextInt(120);
            int procs = 1 + r.nextInt(16);
            swf.append(String.format(Locale.ROOT, "%d %d -1 %d %d -1 -1 %d -1 -1 1 %d 1 -1 1 -1 -1 -1%n", i, submit, 120 + r.nextInt(1680), procs,
                    procs, 1 + r.nextInt(3)));
        }
        SwfTrace.Trace t = SwfTrace.parse(swf.toString());
        assertThat(t.problems()).isEmpty();
        return t.jobs();
    }

    static WhatIf.Report report(List<SwfTrace.TraceJob> trace, int onPremNodes, long eu, long narrow, long home) {
        var workload = WhatIf.fromTrace(trace, new WhatIf.TraceMapping(WhatIf.TenantBy.USER, 1024, false, 1.0));
        return WhatIf.compare(null, "none", compile(CANDIDATE.formatted("user-" + eu, "user-" + narrow, "user-" + home)), cluster(onPremNodes), workload,
                Simulation.Settings.replay(Duration.ofSeconds(5), 2000, 1), 64);
    }

    @Test
    void twoPolicySetsGiveDifferentExplainedResultsAndTheSameInputsTheSameReport() {
        List<SwfTrace.TraceJob> trace = generated();
        WhatIf.Report report = report(trace, 16, 1, 2, 3);
        assertDifferentAndExplained(report, trace, 1, 2, 3);
        assertThat(report(trace, 16, 1, 2, 3)).as("the same inputs, the same report").isEqualTo(report);
    }

    @Test
    void aSpendQuotaLimitsWhatTheReplayBuysForItsTenant() {
        // user-1 may spend $0.05/h in the cloud: one one-cpu task on an m6i.large ($0.096/h for two cpus) at a time.
        PolicySet capped = compile("""
                apiVersion: spillway.dev/v1
                kind: Tenant
                metadata: {name: user-1}
                spec:
                  quotas:
                    - flavor: on-prem
                      resources: {cpu: {nominal: "16"}, memory: {nominal: 1Ti}}
                    - flavor: cloud
                      resources: {cpu: {nominal: "100"}, memory: {nominal: 1Ti}, spendUsdPerHour: {nominal: "0.05"}}
                """);
        var workload = WhatIf.fromTrace(generated(), new WhatIf.TraceMapping(WhatIf.TenantBy.USER, 1024, false, 1.0));
        WhatIf.Report report = WhatIf.compare(null, "none", capped, cluster(16), workload, Simulation.Settings.replay(Duration.ofSeconds(5), 2000, 1), 64);

        WhatIf.TenantRow user1 = report.tenants().stream().filter(t -> t.tenant().equals("user-1")).findFirst().orElseThrow();
        assertThat(user1.candidate().cloudCostUsd()).isPositive().isLessThan(user1.current().cloudCostUsd() / 2);
        // Bursting bought for user-1 only what its quota let run: had it bought for every waiting task, the instances its
        // quota then keeps idle would have cost more than everyone's cloud work without the quota ($62 against $22).
        assertThat(report.candidate().result().cloudCostUsd()).isLessThan(report.current().result().cloudCostUsd());
        assertThat(report.candidate().result().tasks()).as("every task still ran").isEqualTo(report.current().result().tasks());
    }

    @Test
    void skippingTheBurstDecisionsThatWouldAskForNothingChangesNoResult() {
        var workload = WhatIf.fromTrace(generated(), new WhatIf.TraceMapping(WhatIf.TenantBy.USER, 1024, false, 1.0));
        var settings = Simulation.Settings.replay(Duration.ofSeconds(5), 2000, 1);
        for (PolicySet set : new PolicySet[] {null, compile(CANDIDATE.formatted("user-1", "user-2", "user-3"))}) {
            WhatIf.Side skipping = WhatIf.replay(set, "v", cluster(16), workload, settings, 64, false);
            WhatIf.Side every = WhatIf.replay(set, "v", cluster(16), workload, settings, 64, true);
            assertThat(skipping.result().burstTicks()).isLessThan(every.result().burstTicks());
            assertThat(withoutTicks(skipping.result())).isEqualTo(withoutTicks(every.result()));
            assertThat(skipping.result().instances()).isPositive();
        }
    }

    private static Simulation.Result withoutTicks(Simulation.Result r) {
        return new Simulation.Result(r.jobs(), r.tasks(), r.meanWaitSeconds(), r.p95WaitSeconds(), r.maxWaitSeconds(), r.makespanSeconds(),
                r.cloudCostUsd(), r.instances(), r.instancesLeftLive(), r.tasksByPool(), r.actions(), r.schedulingCycles(), 0, r.refusedJobs(),
                r.neverPlaced(), r.tenants(), r.waitReasons(), r.launchesByType());
    }

    static void assertDifferentAndExplained(WhatIf.Report report, List<SwfTrace.TraceJob> trace, long eu, long narrow, long home) {
        long wideOfUser2 = trace.stream().filter(j -> j.user() == narrow && j.tasks() > 8).count();
        assertThat(wideOfUser2).isPositive();
        Simulation.Result before = report.current().result(), after = report.candidate().result();
        assertThat(before.refusedJobs()).isZero();
        assertThat(after.refusedJobs()).isEqualTo((int) wideOfUser2);
        assertThat(after.waitReasons()).containsEntry("refused: finops/narrow-jobs: user-" + narrow + " submits jobs of at most 8 tasks",
                (int) wideOfUser2);
        // Without policies everyone bursts, to the cheaper US pool too; under the candidate one tenant never bursts and another stays in the EU.
        WhatIf.TenantRow user3 = report.tenants().stream().filter(t -> t.tenant().equals("user-" + home)).findFirst().orElseThrow();
        assertThat(user3.current().cloudCostUsd()).isPositive();
        assertThat(user3.candidate().cloudCostUsd()).isZero();
        WhatIf.TenantRow user1 = report.tenants().stream().filter(t -> t.tenant().equals("user-" + eu)).findFirst().orElseThrow();
        assertThat(user1.current().cloudCostByPool()).as("without policies it bursts to the cheaper US pool").containsKey("aws-us");
        assertThat(user1.candidate().cloudCostByPool()).doesNotContainKey("aws-us");
        assertThat(report.current().residencyViolations()).isZero();
        assertThat(report.candidate().residencyViolations()).isZero();
        assertThat(report.differences()).anyMatch(d -> d.startsWith("jobs refused at submission: 0 -> " + wideOfUser2))
                .anyMatch(d -> d.startsWith("tenant user-" + home + ": ") && d.contains("cloud "))
                .anyMatch(d -> d.contains("refused: finops/narrow-jobs"));
        // Every admitted task ran in both.
        long tasks = trace.stream().mapToLong(SwfTrace.TraceJob::tasks).sum();
        assertThat(before.tasks()).isEqualTo(tasks);
        assertThat(after.tasks()).isEqualTo(tasks - trace.stream().filter(j -> j.user() == narrow && j.tasks() > 8).mapToLong(SwfTrace.TraceJob::tasks).sum());
    }

    @Test
    void theNasaTraceToo() throws Exception {
        Path file = tracesDir().resolve("NASA-iPSC-1993-3.1-cln.swf");
        Assumptions.assumeTrue(Files.isReadable(file), "the NASA trace is not at " + file + " (set SPILLWAY_TRACES to its folder)");
        // Its first 2,000 jobs, on a quarter of the machine's 128 processors, users mapped to tenants user-N.
        String head;
        try (Stream<String> lines = Files.lines(file)) {
            head = lines.filter(l -> !l.startsWith(";")).limit(2000).collect(Collectors.joining("\n"));
        }
        List<SwfTrace.TraceJob> trace = SwfTrace.parse(head).jobs();
        // Its user 2 submits 128-processor jobs; users 4 and 15 are its busiest.
        WhatIf.Report report = report(trace, 32, 15, 2, 4);
        assertDifferentAndExplained(report, trace, 15, 2, 4);
    }

    static Path tracesDir() {
        String env = System.getenv("SPILLWAY_TRACES");
        if (env != null) return Path.of(env);
        return Path.of("").toAbsolutePath().getParent().resolveSibling("shared").resolve("traces");
    }
}
