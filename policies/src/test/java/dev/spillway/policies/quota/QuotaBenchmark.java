package dev.spillway.policies.quota;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * How long quota decisions take at the size of a large lab: 50 tenants in 5 cohorts, 3 flavors,
 * usage near the quotas. Not a test (timings on a shared machine are no verdict): run it with
 * {@code java -cp policies/target/classes:policies/target/test-classes:core/target/classes
 * dev.spillway.policies.quota.QuotaBenchmark}. Prints nanoseconds per decision after warm-up.
 */
public final class QuotaBenchmark {

    public static void main(String[] args) {
        Random random = new Random(42);
        List<String> flavors = List.of("onprem", "cloud-spot", "cloud-on-demand");
        List<TenantQuota> tenants = new ArrayList<>();
        Map<String, Map<String, Amounts>> usage = new HashMap<>();
        for (int i = 0; i < 50; i++) {
            Map<String, Map<QuotaResource, QuotaLimits>> limits = new LinkedHashMap<>();
            Map<String, Amounts> used = new HashMap<>();
            for (String f : flavors) {
                Map<QuotaResource, QuotaLimits> l = new EnumMap<>(QuotaResource.class);
                long cpu = 1000L * (16 + random.nextInt(64));
                l.put(QuotaResource.CPU, new QuotaLimits(cpu, random.nextBoolean() ? cpu : null, random.nextBoolean() ? cpu / 2 : null));
                l.put(QuotaResource.MEMORY, QuotaLimits.nominal(cpu * 4));
                l.put(QuotaResource.GPUS, QuotaLimits.nominal(random.nextInt(4)));
                if (!f.equals("onprem")) l.put(QuotaResource.SPEND, QuotaLimits.nominal(20_000_000));
                limits.put(f, l);
                used.put(f, new Amounts(cpu * random.nextInt(120) / 100, cpu, 0, 0));
            }
            tenants.add(new TenantQuota("tenant-" + i, "cohort-" + (i % 5), 500L * (1 + random.nextInt(4)), ReclaimPolicy.ANY, limits));
            usage.put("tenant-" + i, used);
        }
        QuotaState state = QuotaState.of(tenants, usage);
        List<Workload> waiting = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            List<Workload.FlavorRequest> options = new ArrayList<>();
            for (String f : flavors) options.add(new Workload.FlavorRequest(f, new Amounts(1000L * (1 + random.nextInt(4)), 2048, 0, f.equals("onprem") ? 0 : 50_000)));
            waiting.add(new Workload("w" + i, "tenant-" + random.nextInt(50), random.nextInt(3), i, 1 + random.nextInt(50), options, false));
        }

        long sink = 0;
        for (int round = 0; round < 5; round++) {
            int n = 200_000;
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) sink += QuotaAdmission.decide(state, waiting.get(i % waiting.size())).admitted();
            long admitNs = (System.nanoTime() - t0) / n;

            t0 = System.nanoTime();
            QuotaState s = state;
            for (int i = 0; i < 20_000; i++) {
                AdmissionDecision d = QuotaAdmission.decide(s, waiting.get(i % waiting.size()));
                s = d.applyTo(s);
                if (i % 200 == 199) s = state;
            }
            long admitApplyNs = (System.nanoTime() - t0) / 20_000;

            QuotaState full = state;
            for (int i = 0; i < 400; i++) full = QuotaAdmission.decide(full, waiting.get(i % waiting.size())).applyTo(full);
            t0 = System.nanoTime();
            for (int i = 0; i < n; i++) sink += QuotaAdmission.decide(full, waiting.get(i % waiting.size())).reasons().size();
            long waitNs = (System.nanoTime() - t0) / n;

            t0 = System.nanoTime();
            for (int i = 0; i < n; i++) sink += state.reserve("tenant-7", "onprem", waiting.get(0).options().get(0).perTask()).hashCode() & 1;
            long reserveNs = (System.nanoTime() - t0) / n;

            t0 = System.nanoTime();
            int orders = 2_000;
            for (int i = 0; i < orders; i++) sink += FairShare.order(state, waiting).size();
            long orderNs = (System.nanoTime() - t0) / orders;

            t0 = System.nanoTime();
            for (int i = 0; i < orders; i++) sink += FairShare.tenantsByShare(state).size();
            long tenantsNs = (System.nanoTime() - t0) / orders;

            System.out.printf("round %d: decide %d ns; decide that waits (reasons) %d ns; reserve %d ns; decide+apply %d ns; order 200 waiting workloads %d ns (%d ns each); order 50 tenants %d ns%n",
                    round, admitNs, waitNs, reserveNs, admitApplyNs, orderNs, orderNs / waiting.size(), tenantsNs);
        }
        System.out.println("(checksum " + sink + ")");
    }
}
