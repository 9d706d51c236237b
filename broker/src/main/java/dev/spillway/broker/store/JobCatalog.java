package dev.spillway.broker.store;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskShape;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The immutable part of jobs (spec, scheduling shape), cached by id. Jobs never change after
 * submission, so entries never go stale; the cache only bounds memory.
 */
@ApplicationScoped
public class JobCatalog {

    /** What the scheduler and the dispatcher need of a job. */
    public record JobInfo(UUID id, JobSpec spec, TaskShape shape, int priority) {
    }

    private static final int CAPACITY = 20_000;

    private final Pool pool;
    private final DatabaseCalls db;
    private final Map<UUID, JobInfo> cache = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<UUID, JobInfo> eldest) {
            return size() > CAPACITY;
        }
    };

    public JobCatalog(Pool pool, DatabaseCalls db) {
        this.pool = pool;
        this.db = db;
    }

    /** The jobs with these ids, loading the missing ones in one query. Blocking: call off the event loop. */
    public Map<UUID, JobInfo> getAll(Collection<UUID> ids) {
        Map<UUID, JobInfo> out = new java.util.HashMap<>();
        Set<UUID> missing = new HashSet<>();
        synchronized (cache) {
            for (UUID id : ids) {
                JobInfo info = cache.get(id);
                if (info != null) out.put(id, info);
                else missing.add(id);
            }
        }
        if (missing.isEmpty()) return out;
        List<JobInfo> loaded = new ArrayList<>();
        for (Row r : db.await(pool.preparedQuery("SELECT id, priority, spec FROM job WHERE id = ANY($1)")
                .execute(Tuple.of(missing.toArray(UUID[]::new))), "reading " + missing.size() + " job spec(s)")) {
            loaded.add(toInfo(r.getUUID("id"), r.getInteger("priority"), r.getBuffer("spec").getBytes()));
        }
        synchronized (cache) {
            for (JobInfo info : loaded) {
                cache.put(info.id(), info);
                out.put(info.id(), info);
            }
        }
        return out;
    }

    public JobInfo get(UUID id) {
        return getAll(List.of(id)).get(id);
    }

    /** Remembers a job just submitted, saving the scheduler a read. */
    public void put(UUID id, JobSpec spec) {
        JobInfo info = new JobInfo(id, spec, shapeOf(spec), spec.getPriority());
        synchronized (cache) {
            cache.put(id, info);
        }
    }

    public static TaskShape shapeOf(JobSpec spec) {
        var r = spec.getTask().getResources();
        return new TaskShape(new Resources(r.getCpuMillis(), r.getMemoryMib(), r.getGpus()),
                spec.getTask().getNodeSelectorMap(), Set.copyOf(spec.getTask().getPoolsList()),
                Set.copyOf(spec.getTask().getJurisdictionsList()), spec.getTask().getSpotTolerant());
    }

    private static JobInfo toInfo(UUID id, int priority, byte[] spec) {
        try {
            JobSpec parsed = JobSpec.parseFrom(spec);
            return new JobInfo(id, parsed, shapeOf(parsed), priority);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalStateException("job " + id + " has an unreadable spec", e);
        }
    }
}
