package dev.spillway.broker.retention;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.retention.RetentionPolicy.Kind;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.RetentionStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Deletes what {@code spillway.retention.*} no longer keeps: finished jobs (with their tasks, events and labels), spent or
 * expired join tokens, ended cloud instance records (their costs move to {@code instance_cost_history} in the same
 * statement) and old audit events. Runs on its own thread, {@code first-sweep-after} the start and then every
 * {@code interval}, in batches of {@code batch-size} rows, one short transaction each, with {@code batch-pause} between
 * them, so a large backlog never holds locks for long. Unfinished jobs are never touched. Every deletion is counted in
 * {@code spillway_retention_deleted_total{kind}} and each sweep that deleted anything says so in the log.
 */
@ApplicationScoped
public class RetentionSweeper {

    private static final Logger LOG = Logger.getLogger(RetentionSweeper.class);
    /**
     * Most tasks (each with a few events) one batch of jobs may delete, past its first job: a batch of a thousand jobs of
     * 100,000 tasks each would otherwise be one very long transaction.
     */
    static final long TASKS_PER_BATCH = 50_000;

    private final RetentionStore store;
    private final DatabaseCalls db;
    private final BrokerConfig.Retention settings;
    private final RetentionPolicy policy;
    private final Clock clock;
    private final Map<Kind, Counter> deleted = new EnumMap<>(Kind.class);
    private ScheduledExecutorService timer;
    private volatile boolean stopped;

    private final dev.spillway.broker.leader.Leadership leadership;

    public RetentionSweeper(RetentionStore store, DatabaseCalls db, BrokerConfig config, MeterRegistry registry, Clock clock,
                            dev.spillway.broker.leader.Leadership leadership) {
        this.leadership = leadership;
        this.store = store;
        this.db = db;
        this.settings = config.retention();
        this.policy = RetentionPolicy.of(settings.jobs(), settings.records(), settings.audit());
        this.clock = clock;
        if (settings.batchSize() < 1) throw new IllegalArgumentException("spillway.retention.batch-size must be at least 1");
        for (Kind kind : Kind.values()) {
            deleted.put(kind, Counter.builder("spillway_retention_deleted").description("Rows deleted by retention")
                    .tag("kind", kind.metricTag()).register(registry));
        }
    }

    void start(@Observes StartupEvent event) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-retention");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::sweepQuietly, settings.firstSweepAfter().toMillis(), Math.max(1, settings.interval().toMillis()),
                TimeUnit.MILLISECONDS);
        LOG.infof("retention: finished jobs %s, join tokens and instance records %s, audit events %s (checked every %s)",
                kept(settings.jobs()), kept(settings.records()), kept(settings.audit()), settings.interval());
    }

    void stop(@Observes ShutdownEvent event) {
        stopped = true;
        if (timer != null) timer.shutdownNow();
    }

    private void sweepQuietly() {
        if (!leadership.isLeader()) return; // the leader sweeps
        try {
            sweep();
        } catch (RuntimeException e) {
            LOG.errorf(e, "retention sweep failed; trying again in %s", settings.interval());
        }
    }

    /**
     * One sweep: for each kind, batches until none is left older than its cutoff (taken once, at the start). A kind whose
     * batch fails is logged and left for the next sweep; the others go on. Blocking; one sweep at a time.
     *
     * @return rows deleted, by kind
     */
    public synchronized Map<Kind, Long> sweep() {
        Instant now = clock.instant();
        Map<Kind, Long> total = new EnumMap<>(Kind.class);
        for (Kind kind : Kind.values()) {
            Optional<Instant> cutoff = policy.cutoff(kind, now);
            if (cutoff.isEmpty()) continue;
            long n = 0;
            try {
                while (!stopped) {
                    int batch = db.await(deleteBatch(kind, cutoff.get()), "deleting " + kind.metricTag() + " past retention");
                    n += batch;
                    deleted.get(kind).increment(batch);
                    // A batch of jobs may stop short at the task cap: only an empty one says none are left.
                    boolean more = kind == Kind.JOBS ? batch > 0 : batch == settings.batchSize();
                    if (!more) break;
                    pause();
                }
            } catch (RuntimeException e) {
                LOG.warnf("retention: deleting %s ended before %s failed after %d row(s): %s; trying again next sweep", kind.metricTag(),
                        cutoff.get(), n, e.getMessage());
            }
            if (n > 0) total.put(kind, n);
        }
        if (!total.isEmpty()) LOG.infof("retention: deleted %s", describe(total, now));
        return total;
    }

    private Uni<Integer> deleteBatch(Kind kind, Instant cutoff) {
        return switch (kind) {
            case JOBS -> store.deleteFinishedJobs(cutoff, settings.batchSize(), TASKS_PER_BATCH);
            case JOIN_TOKENS -> store.deleteSpentJoinTokens(cutoff, settings.batchSize());
            case INSTANCES -> store.deleteEndedInstances(cutoff, settings.batchSize());
            case AUDIT_EVENTS -> store.deleteAuditEvents(cutoff, settings.batchSize());
        };
    }

    private void pause() {
        try {
            Thread.sleep(settings.batchPause().toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
        }
    }

    private String describe(Map<Kind, Long> total, Instant now) {
        StringBuilder s = new StringBuilder();
        total.forEach((kind, n) -> {
            if (!s.isEmpty()) s.append(", ");
            s.append(n).append(' ').append(kind.metricTag().replace('_', ' ')).append(" ended before ")
                    .append(policy.cutoff(kind, now).orElseThrow());
        });
        return s.toString();
    }

    private static String kept(Duration window) {
        if (window.isZero() || window.isNegative()) return "kept for ever";
        return "kept " + (window.toSeconds() % 86_400 == 0 ? window.toDays() + " d" : window.toString());
    }
}
