package dev.spillway.broker.cost;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.LedgerStore;
import dev.spillway.core.cost.Allocation;
import dev.spillway.core.cost.Billing;
import dev.spillway.core.cost.Ledger;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The cost ledger: prices every cloud instance's hours and every on-prem attempt by the rule of
 * {@link Ledger}, closes each hour {@code spillway.cost.close-after} after it ends (its lines
 * written to {@code cost_entry} once, with the jobs' names and labels of that time), and reads
 * the hours since then live, so a report is current to the second and its closed part never
 * changes.
 */
@ApplicationScoped
public class CostLedger {

    private static final Logger LOG = Logger.getLogger(CostLedger.class);
    /** Most hours one closing reads at once, so that a broker back after a long stop catches up in bounded steps. */
    static final Duration MOST_PER_CLOSING = Duration.ofHours(6);

    private final LedgerStore store;
    private final DatabaseCalls db;
    private final BrokerConfig.Cost settings;
    private final RateCards rates;
    private final Allocation.Weights weights;
    private final Clock clock;
    private final FocusExport focus;
    private ScheduledExecutorService timer;

    private final dev.spillway.broker.leader.Leadership leadership;

    public CostLedger(LedgerStore store, DatabaseCalls db, BrokerConfig config, Clock clock, dev.spillway.broker.leader.Leadership leadership) {
        this.leadership = leadership;
        this.store = store;
        this.db = db;
        this.settings = config.cost();
        this.rates = RateCards.of(config);
        this.weights = new Allocation.Weights(settings.cpuWeight(), settings.memoryWeight());
        this.clock = clock;
        Map<String, String> kinds = new java.util.HashMap<>();
        config.pools().forEach((name, pool) -> kinds.put(name, pool.kind()));
        this.focus = new FocusExport(pool -> kinds.getOrDefault(pool, "on-prem"), settings.internalProvider());
    }

    /** The FOCUS writer for this broker's pools. */
    public FocusExport focus() {
        return focus;
    }

    void start(@Observes StartupEvent event) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-cost-ledger");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1000, settings.closeEvery().toMillis());
        timer.scheduleWithFixedDelay(this::closeQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (timer != null) timer.shutdownNow();
    }

    private void closeQuietly() {
        if (!leadership.isLeader()) return; // the leader closes the hours
        try {
            closeDue();
        } catch (RuntimeException e) {
            LOG.warnf("cost ledger: closing hours failed (%s); trying again in %s", e.getMessage(), settings.closeEvery());
        }
    }

    /**
     * Closes every hour that ended at least {@code close-after} ago and is not closed yet. Blocking, one closing at a
     * time; a closing that finds the ledger moved on by another writes nothing.
     *
     * @return up to when the ledger is closed now
     */
    public synchronized Instant closeDue() {
        Instant now = clock.instant();
        Instant due = Ledger.periodOf(now.minus(settings.closeAfter()));
        Instant closed = db.await(store.closedUntil(), "reading the cost ledger's closing");
        if (closed == null) {
            Instant first = db.await(store.firstActivity(), "finding the first priced record");
            closed = Ledger.periodOf(first == null || first.isAfter(now) ? now : first);
        }
        while (closed.isBefore(due)) {
            Instant until = closed.plus(MOST_PER_CLOSING).isBefore(due) ? closed.plus(MOST_PER_CLOSING) : due;
            LedgerStore.Reading reading = db.await(store.read(closed, until), "reading what to price");
            List<LedgerStore.Line> lines = lines(reading, closed, until, now);
            if (reading.instances().isEmpty() && reading.attempts().isEmpty()) {
                // Nothing ran: the hours up to the next launch or attempt are closed empty at once.
                Instant next = db.await(store.nextActivity(until), "finding the next priced record");
                Instant skip = next == null ? due : Ledger.periodOf(next);
                if (skip.isAfter(due)) skip = due;
                if (skip.isAfter(until)) until = skip;
            }
            Instant from = closed;
            if (!db.await(store.close(from, until, lines), "closing the ledger's hours")) {
                return db.await(store.closedUntil(), "reading the cost ledger's closing");
            }
            LOG.debugf("cost ledger: closed %s to %s with %d line(s)", from, until, lines.size());
            closed = until;
        }
        return closed;
    }

    /** The ledger's lines of {@code [from, to)} as of {@code now}, each with what was bought and the job's facts. */
    List<LedgerStore.Line> lines(LedgerStore.Reading reading, Instant from, Instant to, Instant now) {
        List<Ledger.Entry> entries = Ledger.entries(from, to, now, reading.instances(), reading.attempts(), rates::of, weights,
                Billing.PER_SECOND_MINUTE_MINIMUM);
        Map<String, Double> prices = new java.util.HashMap<>();
        for (Ledger.Instance i : reading.instances()) prices.put(i.id(), i.usdPerHour());
        Map<String, dev.spillway.core.scheduling.Resources> requests = new java.util.HashMap<>();
        for (Ledger.Attempt a : reading.attempts()) requests.putIfAbsent(a.jobId(), a.request());
        List<LedgerStore.Line> out = new ArrayList<>(entries.size());
        for (Ledger.Entry e : entries) {
            double unit = e.kind() == Ledger.Kind.CLOUD ? prices.get(e.instanceId())
                    : rates.of(e.pool()) == null ? 0 : rates.of(e.pool()).usdPerHour(requests.get(e.jobId()));
            out.add(new LedgerStore.Line(e, e.instanceId() == null ? null : reading.offers().get(e.instanceId()), unit,
                    e.jobId() == null ? null : reading.jobs().getOrDefault(e.jobId(), new LedgerStore.JobFacts(null, Map.of()))));
        }
        return out;
    }

    /** A report's window, its grouping and whose lines it may show (null: every tenant's, and idle cost). */
    public record Query(Instant from, Instant to, LedgerStore.Grouping grouping, String labelKey, java.util.Set<String> tenants, java.util.UUID job) {
    }

    /**
     * A report: its window (from an hour's start to {@code to}, at most now), up to when it is closed, and its groups
     * with cloud, on-prem and idle cost in millionths of a dollar.
     */
    public record Report(Instant from, Instant to, Instant closedUntil, List<LedgerStore.Sum> groups) {

        public long cloudMicroUsd() {
            return groups.stream().mapToLong(LedgerStore.Sum::cloudMicroUsd).sum();
        }

        public long onPremMicroUsd() {
            return groups.stream().mapToLong(LedgerStore.Sum::onPremMicroUsd).sum();
        }

        public long idleMicroUsd() {
            return groups.stream().mapToLong(LedgerStore.Sum::idleMicroUsd).sum();
        }
    }

    /** The report for {@code query}: the closed hours summed by the database, the rest priced now. */
    public Uni<Report> report(Query query) {
        Instant now = clock.instant();
        Instant from = Ledger.periodOf(query.from());
        Instant to = query.to() == null || query.to().isAfter(now) ? now : query.to();
        String[] tenants = query.tenants() == null ? null : query.tenants().toArray(String[]::new);
        return store.closedUntil().flatMap(closedOrNull -> {
            Instant closed = closedOrNull == null ? from : closedOrNull;
            Instant split = closed.isBefore(from) ? from : closed.isAfter(to) ? to : closed;
            Uni<List<LedgerStore.Sum>> closedPart = split.isAfter(from)
                    ? store.sums(from, split, query.grouping(), query.labelKey(), tenants, query.job()) : Uni.createFrom().item(List.of());
            Uni<List<LedgerStore.Line>> livePart = to.isAfter(split)
                    ? store.read(split, to).map(reading -> lines(reading, split, to, now)) : Uni.createFrom().item(List.of());
            return closedPart.flatMap(sums -> livePart.map(lines -> new Report(from, to, closed, merge(sums, lines, query))));
        });
    }

    /** Closed sums and live lines, grouped the same way, largest total first. */
    static List<LedgerStore.Sum> merge(List<LedgerStore.Sum> closed, List<LedgerStore.Line> live, Query query) {
        Map<String, long[]> money = new java.util.LinkedHashMap<>();
        Map<String, Double> seconds = new java.util.HashMap<>();
        Map<String, String> names = new java.util.HashMap<>();
        for (LedgerStore.Sum s : closed) {
            long[] m = money.computeIfAbsent(s.key(), k -> new long[3]);
            m[0] += s.cloudMicroUsd();
            m[1] += s.onPremMicroUsd();
            m[2] += s.idleMicroUsd();
            seconds.merge(s.key(), s.taskSeconds(), Double::sum);
            if (s.name() != null && !s.name().isEmpty()) names.put(s.key(), s.name());
        }
        for (LedgerStore.Line l : live) {
            Ledger.Entry e = l.entry();
            if (query.tenants() != null && (e.tenant() == null || !query.tenants().contains(e.tenant()))) continue;
            if (query.job() != null && !query.job().toString().equals(e.jobId())) continue;
            String key = switch (query.grouping()) {
                case TENANT -> e.tenant() == null ? "" : e.tenant();
                case POOL -> e.pool();
                case JOB -> e.jobId() == null ? "" : e.jobId();
                case LABEL -> e.jobId() == null || l.job() == null ? "" : l.job().labels().getOrDefault(query.labelKey(), "");
            };
            long[] m = money.computeIfAbsent(key, k -> new long[3]);
            if (e.idle()) m[2] += e.microUsd();
            else if (e.kind() == Ledger.Kind.CLOUD) m[0] += e.microUsd();
            else m[1] += e.microUsd();
            if (!e.idle()) seconds.merge(key, e.seconds(), Double::sum);
            if (query.grouping() == LedgerStore.Grouping.JOB && l.job() != null && l.job().name() != null) names.putIfAbsent(key, l.job().name());
        }
        List<LedgerStore.Sum> out = new ArrayList<>();
        money.forEach((k, m) -> out.add(new LedgerStore.Sum(k, names.getOrDefault(k, ""), m[0], m[1], m[2], seconds.getOrDefault(k, 0.0))));
        out.sort(java.util.Comparator.comparingLong((LedgerStore.Sum s) -> -(s.cloudMicroUsd() + s.onPremMicroUsd() + s.idleMicroUsd()))
                .thenComparing(LedgerStore.Sum::key));
        return out;
    }

    /** Every line from {@code from} (an hour's start) until {@code to}, closed ones as written and the rest priced now, for an export. */
    public Uni<List<LedgerStore.Line>> lines(Instant fromAny, Instant toAny, java.util.Set<String> tenants) {
        Instant now = clock.instant();
        Instant from = Ledger.periodOf(fromAny);
        Instant to = toAny == null || toAny.isAfter(now) ? now : toAny;
        String[] only = tenants == null ? null : tenants.toArray(String[]::new);
        return store.closedUntil().flatMap(closedOrNull -> {
            Instant closed = closedOrNull == null ? from : closedOrNull;
            Instant split = closed.isBefore(from) ? from : closed.isAfter(to) ? to : closed;
            Uni<List<LedgerStore.Line>> closedPart = split.isAfter(from) ? store.lines(from, split, only) : Uni.createFrom().item(List.of());
            Uni<List<LedgerStore.Line>> livePart = to.isAfter(split)
                    ? store.read(split, to).map(reading -> lines(reading, split, to, now)) : Uni.createFrom().item(List.of());
            return closedPart.flatMap(c -> livePart.map(l -> {
                List<LedgerStore.Line> all = new ArrayList<>(c);
                for (LedgerStore.Line line : l) {
                    if (tenants == null || line.entry().tenant() != null && tenants.contains(line.entry().tenant())) all.add(line);
                }
                return all;
            }));
        });
    }
}
