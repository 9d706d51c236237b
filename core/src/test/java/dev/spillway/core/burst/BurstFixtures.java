package dev.spillway.core.burst;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Builders for burst decision snapshots in tests. */
final class BurstFixtures {

    static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
    static final String POOL = "awseu";
    static final String BROKER = "broker.example.com:7070";

    private BurstFixtures() {}

    static CloudPoolSpec pool(String name, int min, int max, double cap) {
        return new CloudPoolSpec(name, "EU", min, max, cap, Set.of(), Duration.ofSeconds(30), Duration.ofSeconds(60),
                Duration.ofMinutes(5), Duration.ofMinutes(3), 3);
    }

    static CloudPoolSpec pool(int max) {
        return pool(POOL, 0, max, Double.POSITIVE_INFINITY);
    }

    static Offering offering(String pool, String type, int cpus, int memGib, double price) {
        return new Offering(Offering.id(pool, "eu-central-1a", type, false), pool, "eu-central-1", "eu-central-1a", "EU", type,
                new Resources(cpus * 1000L, memGib * 1024L, 0), false, price);
    }

    /** Two sizes priced like m6i: 2 and 8 vCPU. */
    static List<Offering> smallAndLarge(String pool) {
        return List.of(offering(pool, "m6i.large", 2, 8, 0.115), offering(pool, "m6i.2xlarge", 8, 32, 0.46));
    }

    static WaitingTask waiting(String job, int index, int cpus, Instant queuedAt, boolean waitingCanHelp) {
        return new WaitingTask(new Demand(new TaskRef(job, index, 0), new Resources(cpus * 1000L, 1024, 0), Set.of(), false), queuedAt,
                waitingCanHelp);
    }

    /** {@code n} one-cpu tasks of one job, queued at {@code queuedAt}, on-prem merely busy. */
    static List<WaitingTask> busyOnPrem(String job, int n, Instant queuedAt) {
        List<WaitingTask> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(waiting(job, i, 1, queuedAt, true));
        return out;
    }

    static InstanceView instance(String id, String pool, Offering o, InstanceState state, Instant launchedAt, boolean connected,
                                 int tasks, Instant idleSince) {
        return new InstanceView(id, pool, pool + "-" + id, o.id(), o.shape(), o.spot(), o.priceUsdPerHour(), state,
                launchedAt == null ? T0 : launchedAt, launchedAt, connected, tasks, idleSince, Set.of("job-x"), 1,
                o.instanceType() + " for job-x");
    }

    static BurstSnapshot snapshot(Instant now, List<CloudPoolSpec> pools, List<Offering> offerings, List<InstanceView> instances,
                                  List<WaitingTask> waiting, List<LaunchOutcome> history) {
        return new BurstSnapshot(now, pools, offerings, instances, waiting, history, Map.of(), BROKER);
    }

    static <T extends BurstAction> List<T> of(BurstDecision.Result r, Class<T> type) {
        return r.actions().stream().filter(type::isInstance).map(type::cast).toList();
    }
}
