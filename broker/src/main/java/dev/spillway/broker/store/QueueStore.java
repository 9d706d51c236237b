package dev.spillway.broker.store;

import dev.spillway.core.scheduling.FairShares;
import dev.spillway.core.scheduling.Resources;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The queue by tenant, read from the database: what each tenant's queued tasks ask for (from the
 * jobs' counts of queued tasks, kept by every statement that moves a task in or out of the queue)
 * and what its assigned and running tasks hold. Two statements over partial indexes: the cost
 * follows the live work, not the history.
 */
@ApplicationScoped
public class QueueStore {

    /** One tenant's queued and running tasks and their requests. */
    public record TenantLoad(String tenant, int queuedTasks, Resources queued, int runningTasks, Resources allocated) {

        public FairShares.Demand demand() {
            return new FairShares.Demand(tenant, allocated, queued);
        }
    }

    private final Pool pool;

    public QueueStore(Pool pool) {
        this.pool = pool;
    }

    /** Every tenant with queued or running tasks, by name (the fair shares depend on them all: filter afterwards). */
    public Uni<List<TenantLoad>> byTenant() {
        Uni<List<Row>> queued = pool.query("""
                SELECT tenant, sum(queued)::bigint AS tasks, sum(queued * cpu_millis)::bigint AS cpu,
                       sum(queued * memory_mib)::bigint AS memory, sum(queued * gpus)::bigint AS gpus
                FROM job WHERE queued > 0 GROUP BY tenant""").execute().map(QueueStore::rows);
        Uni<List<Row>> running = pool.query("""
                SELECT j.tenant, count(*) AS tasks, sum(j.cpu_millis)::bigint AS cpu, sum(j.memory_mib)::bigint AS memory,
                       sum(j.gpus)::bigint AS gpus
                FROM task t JOIN job j ON j.id = t.job_id WHERE t.state IN ('ASSIGNED', 'RUNNING') GROUP BY j.tenant""")
                .execute().map(QueueStore::rows);
        return Uni.combine().all().unis(queued, running).asTuple().map(both -> {
            Map<String, TenantLoad> out = new TreeMap<>();
            for (Row r : both.getItem1()) {
                String tenant = r.getString("tenant");
                out.put(tenant, new TenantLoad(tenant, r.getLong("tasks").intValue(), resources(r), 0, Resources.ZERO));
            }
            for (Row r : both.getItem2()) {
                String tenant = r.getString("tenant");
                TenantLoad q = out.get(tenant);
                out.put(tenant, new TenantLoad(tenant, q == null ? 0 : q.queuedTasks(), q == null ? Resources.ZERO : q.queued(),
                        r.getLong("tasks").intValue(), resources(r)));
            }
            return new ArrayList<>(out.values());
        });
    }

    private static List<Row> rows(io.vertx.mutiny.sqlclient.RowSet<Row> set) {
        List<Row> out = new ArrayList<>();
        set.forEach(out::add);
        return out;
    }

    private static Resources resources(Row r) {
        return new Resources(r.getLong("cpu"), r.getLong("memory"), r.getLong("gpus").intValue());
    }
}
