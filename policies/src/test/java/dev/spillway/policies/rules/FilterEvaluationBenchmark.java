package dev.spillway.policies.rules;

import dev.spillway.core.scheduling.Filters;
import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeSlot;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What compiled placement rules cost. Not a test (no assertions, not run by the build): run it with
 * the module's test class path, e.g. from the IDE or {@code java -cp ... dev.spillway.policies.rules.FilterEvaluationBenchmark}.
 *
 * <p>Prints: ns per evaluation of one compiled filter expression with bindings built once;
 * ns per policy-filter check of a (shape, node) pair with 10 filter rules, first time and remembered;
 * and placements per second of the core scheduler with those 10 rules in its pipeline.
 */
public final class FilterEvaluationBenchmark {

    static String tenRules() {
        StringBuilder sb = new StringBuilder("apiVersion: spillway.dev/v1\nkind: Policy\nmetadata: {name: bench}\nspec:\n  filters:\n");
        String[] matches = {
                "node.labels.?role.orValue(\"\") == \"login\"",
                "node.kind == \"aws\" && job.labels.?team.orValue(\"\") == \"finance\"",
                "task.gpus > 0 && node.gpus == 0",
                "node.priceUsdPerHour > 5.0 && job.priority < 5",
                "node.labels.?rack.orValue(\"\") == \"r13\"",
                "job.tenant == \"guest\" && node.cloud",
                "node.spot && !task.spotTolerant",
                "task.memoryMib > node.memoryMib / 2 && job.priority < 3",
                "node.region.startsWith(\"us-\") && \"EU\" in job.jurisdictions",
                "has(node.labels.maintenance)",
        };
        for (int i = 0; i < matches.length; i++) {
            sb.append("    - name: r").append(i).append("\n      match: '").append(matches[i].replace("'", "''"))
                    .append("'\n      message: '\"rule ").append(i).append("\"'\n");
        }
        return sb.toString();
    }

    public static void main(String[] args) {
        PolicySet set = Fixtures.compile(tenRules());
        Instant now = Instant.parse("2026-03-04T10:15:00Z");
        JobFacts job = JobFacts.of("job", "research", 5, 1, new Resources(1_000, 1_024, 0)).withLabels(Map.of("team", "ml"));
        TaskShape shape = Fixtures.shape();
        NodeView view = Fixtures.node("n1", "rack", Map.of("rack", "r1", "role", "compute", TaskShape.JURISDICTION_LABEL, "EU"));
        NodeSlot slot = Fixtures.slot(view);
        Map<String, PoolFacts> pools = Map.of("rack", new PoolFacts("rack", "on-prem", "lyon", "EU", 0.8));

        // 1. one compiled expression, bindings built once
        PolicySet.Filter rule = set.filters.get(1);
        Variables.NodeSubject subject = new Variables.NodeSubject(slot, pools.get("rack"));
        Bindings b = new Bindings(Variables.JOB.view(job), Variables.TENANT.view(TenantFacts.named("research")), Variables.TASK.view(shape),
                Variables.NODE.view(subject), null, now);
        double perEval = 0;
        for (int round = 0; round < 5; round++) {
            int n = 400_000;
            long t0 = System.nanoTime();
            int hits = 0;
            for (int i = 0; i < n; i++) if (Boolean.TRUE.equals(rule.match().evaluate(b))) hits++;
            perEval = (System.nanoTime() - t0) / (double) n;
            if (hits < 0) System.out.println(hits);
        }
        System.out.printf(Locale.ROOT, "one filter expression (%s): %.0f ns per evaluation%n", rule.match(), perEval);

        // 2. the policy filter (10 rules) on (shape, node) pairs: the first check of each pair in a cycle, and a repeated one
        NodeSlot[] slots = new NodeSlot[1_000];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = Fixtures.slot(Fixtures.node("n" + i, "rack", Map.of("rack", "r" + (i % 40), "role", "compute",
                    TaskShape.JURISDICTION_LABEL, "EU")));
        }
        double first = 0;
        double again = 0;
        for (int round = 0; round < 200; round++) {
            NodeFilter f = set.placement(new PlacementContext(now, s -> job, TenantFacts::named, pools)).filter();
            long t0 = System.nanoTime();
            for (NodeSlot s : slots) f.check(shape, s);
            long t1 = System.nanoTime();
            for (NodeSlot s : slots) f.check(shape, s);
            long t2 = System.nanoTime();
            first = (t1 - t0) / (double) slots.length;
            again = (t2 - t1) / (double) slots.length;
        }
        System.out.printf(Locale.ROOT, "policy filter with 10 rules, per (shape, node) pair: %.0f ns the first time in a cycle, %.0f ns after%n",
                first, again);

        // 3. the scheduler with the 10 rules: 2,000 nodes, 20,000 tasks of 200 jobs
        List<NodeView> nodes = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            Map<String, String> labels = new HashMap<>();
            labels.put("rack", "r" + (i % 40));
            labels.put(TaskShape.JURISDICTION_LABEL, i % 3 == 0 ? "US" : "EU");
            if (i % 50 == 0) labels.put("role", "login");
            nodes.add(new NodeView(String.format(Locale.ROOT, "n%05d", i), "rack", new Resources(64_000, 262_144, 0), Resources.ZERO, labels, true));
        }
        List<PendingTask> tasks = new ArrayList<>();
        Map<TaskShape, JobFacts> jobs = new HashMap<>();
        for (int j = 0; j < 200; j++) {
            TaskShape s = new TaskShape(new Resources(1_000 + j, 2_048, 0), Map.of(), Set.of());
            jobs.put(s, JobFacts.of("job" + j, j % 7 == 0 ? "guest" : "research", j % 10, 100, s.request()));
            for (int i = 0; i < 100; i++) tasks.add(new PendingTask(new TaskRef("job" + j, i, 0), s, j % 10, j * 1000L + i));
        }
        Snapshot snapshot = new Snapshot(nodes, tasks);
        for (int round = 0; round < 6; round++) {
            PlacementRules rules = set.placement(new PlacementContext(now, jobs::get, TenantFacts::named, pools));
            Scheduler withRules = new Scheduler(List.of(Filters.SCHEDULABLE, Filters.POOL, Filters.NODE_SELECTOR, Filters.JURISDICTION,
                    Filters.SPOT, Filters.CAPACITY, rules.filter(), Filters.FREE_RESOURCES), List.of(
                    new Scheduler.WeightedScorer(Scorers.PREFER_ON_PREM, 2.0), new Scheduler.WeightedScorer(Scorers.BIN_PACK, 1.0)), 8);
            long t0 = System.nanoTime();
            Plan plan = withRules.plan(snapshot);
            long t1 = System.nanoTime();
            Plan plain = Scheduler.standard().plan(snapshot);
            long t2 = System.nanoTime();
            if (round >= 3) {
                System.out.printf(Locale.ROOT, "scheduler, 2,000 nodes, 20,000 tasks: %,d placements/s with 10 policy rules (%d placed), "
                                + "%,d placements/s without%n",
                        (long) (plan.placements().size() / ((t1 - t0) / 1e9)), plan.placements().size(),
                        (long) (plain.placements().size() / ((t2 - t1) / 1e9)));
            }
        }
    }
}
