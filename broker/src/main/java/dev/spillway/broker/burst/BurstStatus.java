package dev.spillway.broker.burst;

import dev.spillway.broker.store.InstanceStore;
import dev.spillway.core.burst.BurstDecision;
import dev.spillway.core.burst.Offering;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** What the last burst decision said: why each job's waiting tasks wait, and how each cloud pool stands. */
@ApplicationScoped
public class BurstStatus {

    /** A cloud pool for {@code spillway pools}. */
    public record PoolStatus(int usableOfferings, double cheapestUsdPerHour, int instances, int maxNodes, double spendUsdPerHour,
                             double maxSpendUsdPerHour, String status) {
    }

    private final CloudPools pools;
    private final InstanceStore instances;
    private volatile BurstDecision.Result last = new BurstDecision.Result(List.of(), Map.of(), Map.of());

    public BurstStatus(CloudPools pools, InstanceStore instances) {
        this.pools = pools;
        this.instances = instances;
    }

    void publish(BurstDecision.Result result) {
        last = result;
    }

    /** What the last burst decision said about a job's waiting tasks; null if nothing. */
    public String burstReason(UUID jobId) {
        return last.waitingReasons().get(jobId.toString());
    }

    /** Every cloud pool's standing, by name. */
    public Uni<Map<String, PoolStatus>> pools() {
        return instances.live().map(live -> {
            Map<String, PoolStatus> out = new HashMap<>();
            for (CloudPool pool : pools.all().values()) {
                BurstDecision.PoolStanding standing = last.pools().get(pool.name());
                List<InstanceStore.InstanceRow> mine = live.stream().filter(r -> r.pool().equals(pool.name())).toList();
                int usable = standing != null ? standing.usableOfferings() : pool.offerings().size();
                String status = standing != null ? standing.status()
                        : pool.refreshError() != null ? "cannot read its offerings: " + pool.refreshError() : "ok";
                Map<String, String> unusable = pool.provider().unusableInstanceTypes();
                if (!unusable.isEmpty()) {
                    StringBuilder b = new StringBuilder(status).append("; left out: ");
                    unusable.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e ->
                            b.append(e.getKey()).append(" (").append(e.getValue()).append(") "));
                    status = b.toString().trim();
                }
                out.put(pool.name(), new PoolStatus(usable,
                        pool.offerings().stream().mapToDouble(Offering::priceUsdPerHour).min().orElse(0),
                        mine.size(), pool.settings().maxNodes(),
                        mine.stream().mapToDouble(InstanceStore.InstanceRow::priceUsdPerHour).sum(),
                        pool.settings().maxSpendUsdPerHour().orElse(0.0), status));
            }
            return out;
        });
    }
}
