package dev.spillway.policies.quota;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Random tenants in cohorts, and a state reached by admitting random workloads from nothing (seeded, so a failing try replays). */
final class QuotaWorld {

    static final List<String> FLAVORS = List.of("f1", "f2", "f3");

    final Random random;
    final List<TenantQuota> tenants = new ArrayList<>();
    final List<Reclaim.Admitted> admitted = new ArrayList<>();
    QuotaState state;
    long seq;

    QuotaWorld(long seed) {
        random = new Random(seed);
        int n = 2 + random.nextInt(5);
        for (int i = 0; i < n; i++) tenants.add(randomTenant("t" + i));
        state = QuotaState.of(tenants, Map.of());
    }

    private TenantQuota randomTenant(String name) {
        String cohort = switch (random.nextInt(5)) {
            case 0 -> null;
            case 1 -> "b";
            default -> "a";
        };
        Map<String, Map<QuotaResource, QuotaLimits>> flavors = new LinkedHashMap<>();
        for (String f : FLAVORS.subList(0, 2)) {
            if (flavors.isEmpty() ? random.nextInt(6) == 0 : random.nextInt(3) == 0) continue;
            Map<QuotaResource, QuotaLimits> limits = new EnumMap<>(QuotaResource.class);
            for (QuotaResource r : List.of(QuotaResource.CPU, QuotaResource.GPUS)) {
                if (random.nextInt(8) == 0) continue; // not listed: nothing
                long nominal = random.nextInt(21);
                Long borrowing = cohort != null && random.nextBoolean() ? (long) random.nextInt(16) : null;
                Long lending = cohort != null && random.nextBoolean() ? (long) random.nextInt((int) nominal + 1) : null;
                limits.put(r, new QuotaLimits(nominal, borrowing, lending));
            }
            flavors.put(f, limits);
        }
        if (flavors.isEmpty()) flavors.put("f1", Map.of(QuotaResource.CPU, QuotaLimits.nominal(random.nextInt(10))));
        long weight = List.of(0L, 500L, 1000L, 1000L, 2000L, 3000L).get(random.nextInt(6));
        ReclaimPolicy reclaim = ReclaimPolicy.values()[random.nextInt(3)];
        return new TenantQuota(name, cohort, weight, reclaim, flavors);
    }

    Workload randomWorkload(String id) {
        String tenant = random.nextInt(12) == 0 ? "ghost" : tenants.get(random.nextInt(tenants.size())).tenant();
        List<String> fl = new ArrayList<>(FLAVORS);
        Collections.shuffle(fl, random);
        fl = fl.subList(0, 1 + random.nextInt(fl.size()));
        List<Workload.FlavorRequest> options = new ArrayList<>();
        for (String f : fl) options.add(new Workload.FlavorRequest(f, randomAmounts()));
        return new Workload(id, tenant, random.nextInt(4), random.nextInt(100), 1 + random.nextInt(10), options, random.nextInt(4) == 0);
    }

    Amounts randomAmounts() {
        long cpu = random.nextInt(5), gpus = random.nextInt(3);
        if (cpu == 0 && gpus == 0) cpu = 1;
        return new Amounts(cpu, 0, gpus, 0);
    }

    /** Admits {@code n} random workloads, recording what each grant reserved. */
    List<AdmissionDecision> admitRandom(int n) {
        List<AdmissionDecision> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Workload w = randomWorkload("w" + seq);
            AdmissionDecision d = QuotaAdmission.decide(state, w);
            state = d.applyTo(state);
            for (AdmissionDecision.Grant g : d.grants()) {
                admitted.add(new Reclaim.Admitted("w" + seq + "@" + g.flavor(), w.tenant(), g.flavor(), w.priority(), seq, g.reserved()));
            }
            seq++;
            out.add(d);
        }
        return out;
    }
}
