package dev.spillway.policies.rules;

import dev.spillway.core.scheduling.Resources;
import java.time.Instant;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * What a policy's admission rules add to a submission. Not a test (no assertions, not run by the
 * build): run it with the module's test class path, {@code java -cp ...
 * dev.spillway.policies.rules.AdmissionBenchmark [RULES]} (default 20).
 *
 * <p>Compiles RULES admission rules of the kinds FinOps teams write (a label and the tenant,
 * priority bands, resource ceilings, time of day; none matches the job), then times
 * {@link PolicySet#admit} for one job: 200 batches of 1,000 admissions after a warm-up, and
 * prints the mean and the 99th percentile of the batches' per-admission time. Ends with
 * {@code RESULT policy_admission rules=.. mean_us=.. p99_batch_us=..}.
 */
public final class AdmissionBenchmark {

    private AdmissionBenchmark() {
    }

    static String rules(int n) {
        StringBuilder b = new StringBuilder("apiVersion: spillway.dev/v1\nkind: Policy\nmetadata: {name: bench}\nspec:\n  admission:\n");
        for (int i = 0; i < n; i++) {
            String match = switch (i % 4) {
                case 0 -> "job.labels.?costCenter.orValue(\"\") == \"cc-" + i + "\" && job.tenant != \"research\"";
                case 1 -> "job.priority > " + (1000 + i) + " && job.tasks > 100";
                case 2 -> "job.gpus > 8 && job.cpuMillis * job.tasks > " + (1_000_000 + i);
                default -> "job.tenant == \"sandbox-" + i + "\" && now.getHours() >= 20";
            };
            b.append("    - name: rule-").append(i).append("\n      match: '").append(match.replace("'", "''"))
                    .append("'\n      message: '\"rule ").append(i).append(" for \" + job.name'\n      action: Deny\n");
        }
        return b.toString();
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        PolicySet set = Fixtures.compile(rules(n));
        JobFacts job = JobFacts.of("etl", "research", 50, 10, new Resources(2_000, 4_096, 0)).withLabels(Map.of("team", "data", "costCenter", "cc-x"));
        TenantFacts tenant = TenantFacts.named("research");
        Instant now = Instant.parse("2026-03-04T10:15:00Z");
        int denied = 0;
        for (int i = 0; i < 200_000; i++) if (set.admit(job, tenant, now).denied()) denied++;
        double[] perAdmission = new double[200];
        for (int batch = 0; batch < perAdmission.length; batch++) {
            long start = System.nanoTime();
            for (int i = 0; i < 1_000; i++) if (set.admit(job, tenant, now).denied()) denied++;
            perAdmission[batch] = (System.nanoTime() - start) / 1_000.0 / 1_000.0;
        }
        if (denied > 0) throw new IllegalStateException("the benchmark's job must pass every rule; " + denied + " denials");
        double mean = Arrays.stream(perAdmission).average().orElseThrow();
        Arrays.sort(perAdmission);
        double p99 = perAdmission[(int) Math.ceil(perAdmission.length * 0.99) - 1];
        System.out.printf(Locale.ROOT, "%d admission rules, none matching: %.2f µs per admission (mean), %.2f µs in the slowest 1 %% of batches%n",
                n, mean, p99);
        System.out.printf(Locale.ROOT, "RESULT policy_admission rules=%d mean_us=%.2f p99_batch_us=%.2f%n", n, mean, p99);
    }
}
