package dev.spillway.broker.cost;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.FailedPrecondition;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.store.BudgetStore;
import dev.spillway.broker.store.DatabaseCalls;
import dev.spillway.broker.store.JobStore;
import dev.spillway.broker.store.LedgerStore;
import dev.spillway.core.cost.BudgetPeriod;
import dev.spillway.core.cost.Quote;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Budgets in force. At admission, a job of a tenant with budgets reserves its not-to-exceed cost in each of them, in the
 * statement that stores it ({@link JobStore#insertAll}): a hard budget without room refuses the job, and nothing is
 * stored. Every {@code spillway.cost.budget-every}, the keeper books each open period from the ledger: what the
 * tenant spent, and what each job's reservation still holds (its quote less its actual cost so far; nothing once the
 * job has ended); it alerts as spending crosses the budget's thresholds (log, {@code budget_event}, and the gauge
 * {@code spillway_budget_used_ratio{tenant,budget}}).
 */
@ApplicationScoped
public class Budgets implements dev.spillway.broker.burst.SpendCaps {

    private static final Logger LOG = Logger.getLogger(Budgets.class);

    private final BudgetStore store;
    private final CostLedger ledger;
    private final DatabaseCalls db;
    private final BrokerConfig.Cost settings;
    private final MeterRegistry registry;
    private final Clock clock;
    private volatile Map<String, List<Defined>> byTenant = Map.of();
    private volatile List<Defined> all = List.of();
    /** Periods opened (or being opened) by this broker, by budget@start: admission waits for one being opened. */
    private final Map<String, java.util.concurrent.CompletableFuture<Void>> opened = new ConcurrentHashMap<>();
    private final Map<String, double[]> usedRatio = new ConcurrentHashMap<>();
    /** Tenants with a hard budget whose period is spent, with why: bursting buys nothing more for them. */
    private volatile Map<String, String> spentOut = Map.of();
    private ScheduledExecutorService timer;

    /** Budgets over a cohort name it so: {@code cohort:NAME}; its members are the tenants the policy set puts in the cohort. */
    public static final String COHORT = "cohort:";

    /** A budget as defined, its period parsed, and the tenants whose spending it counts. */
    record Defined(BudgetStore.Budget row, BudgetPeriod period, Set<String> tenants) {
        String whose() {
            return row.tenant().startsWith(COHORT) ? "cohort " + row.tenant().substring(COHORT.length()) : "tenant " + row.tenant();
        }
    }

    private final dev.spillway.broker.policy.Policies policies;

    private final dev.spillway.broker.leader.Leadership leadership;

    public Budgets(BudgetStore store, CostLedger ledger, DatabaseCalls db, BrokerConfig config, MeterRegistry registry,
                   Clock clock, dev.spillway.broker.policy.Policies policies, dev.spillway.broker.leader.Leadership leadership) {
        this.leadership = leadership;
        this.policies = policies;
        this.store = store;
        this.ledger = ledger;
        this.db = db;
        this.settings = config.cost();
        this.registry = registry;
        this.clock = clock;
    }

    void start(@Observes StartupEvent event) {
        reload();
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-budgets");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(100, settings.budgetEvery().toMillis());
        timer.scheduleWithFixedDelay(this::keepQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (timer != null) timer.shutdownNow();
    }

    /**
     * After a budget was set or deleted: read them again, and forget which periods are open (a deleted one's went with it).
     * Until the next keeping has booked a hard budget just set, its tenants get no new cloud capacity: whether it is spent
     * is not known yet, and a hard budget errs on the side of spending nothing.
     */
    public void changed() {
        opened.clear();
        reload();
        Map<String, String> unknown = new HashMap<>();
        for (Defined d : all) {
            if (!d.row().hard()) continue;
            for (String t : d.tenants()) unknown.putIfAbsent(t, "budget: hard budget " + d.row().name() + " of " + d.whose()
                    + " was just set and is being booked: no new cloud capacity until it is (at most " + settings.budgetEvery() + ")");
        }
        notBookedYet = Map.copyOf(unknown);
    }

    /** Tenants of hard budgets set since the last keeping, with why they get no cloud capacity until it books them. */
    private volatile Map<String, String> notBookedYet = Map.of();

    /** Reads the budgets again (at each keeping). */
    public void reload() {
        Map<String, List<Defined>> next = new HashMap<>();
        List<Defined> every = new ArrayList<>();
        var set = policies.inForce().set();
        for (BudgetStore.Budget b : db.await(store.list(null), "reading the budgets")) {
            Set<String> tenants;
            if (b.tenant().startsWith(COHORT)) {
                String cohort = b.tenant().substring(COHORT.length());
                tenants = set == null ? Set.of() : set.tenants().values().stream().filter(t -> cohort.equals(t.cohort()))
                        .map(dev.spillway.policies.document.TenantDoc::name).collect(java.util.stream.Collectors.toUnmodifiableSet());
            } else {
                tenants = Set.of(b.tenant());
            }
            Defined d = new Defined(b, BudgetPeriod.parse(b.period()), tenants);
            every.add(d);
            for (String t : tenants) next.computeIfAbsent(t, x -> new ArrayList<>()).add(d);
        }
        byTenant = next;
        all = List.copyOf(every);
    }

    /** Whether jobs of {@code tenant} reserve in budgets ({@link #reservationsFor} may then block). */
    public boolean reserves(String tenant) {
        return byTenant.containsKey(tenant);
    }

    /**
     * What an admitted job reserves: its not-to-exceed cost (the cloud part, or all of it for budgets that count on-prem
     * work) in the open period of each of its tenant's budgets. A job without a bound under a hard budget is refused on
     * {@code spec.task.max_runtime}.
     *
     * @param quote the job's quote at admission ({@link JobEstimates#quoteAdmitted})
     */
    public List<JobStore.Reservation> reservationsFor(JobSpec admitted, Quote.Result quote) {
        List<Defined> budgets = byTenant.getOrDefault(admitted.getTenant(), List.of());
        if (budgets.isEmpty()) return List.of();
        Instant now = clock.instant();
        List<JobStore.Reservation> out = new ArrayList<>();
        for (Defined d : budgets) {
            BudgetPeriod.Window w = d.period().at(now);
            if (w == null) continue;
            if (quote.notToExceedMicroUsd() == null) {
                if (!d.row().hard()) continue;
                throw InvalidRequest.of("spec.task.max_runtime", "tenant " + admitted.getTenant() + " has a hard budget (" + d.row().name()
                        + (d.row().tenant().startsWith(COHORT) ? ", of its " + d.whose() : "") + "): a job needs a wall-time limit, so that its "
                        + "cost has a bound to reserve");
            }
            open(d, w);
            long amount = d.row().onPrem() ? quote.notToExceedMicroUsd() : quote.notToExceedCloudMicroUsd();
            if (amount > 0) out.add(new JobStore.Reservation(d.row().name(), w.start(), amount));
        }
        return out;
    }

    /**
     * Makes sure the budget's period has its row before a job reserves in it: the first caller writes it, the others wait
     * for that write (a reservation in a period without its row would be refused). Blocking.
     */
    private void open(Defined d, BudgetPeriod.Window w) {
        String key = d.row().name() + "@" + w.start();
        java.util.concurrent.CompletableFuture<Void> mine = new java.util.concurrent.CompletableFuture<>();
        java.util.concurrent.CompletableFuture<Void> first = opened.putIfAbsent(key, mine);
        if (first != null) {
            try {
                first.get(db.bound().toMillis(), TimeUnit.MILLISECONDS);
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while budget period " + key + " was being opened", e);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("budget period " + key + " could not be opened: " + e.getMessage(), e);
            }
        }
        try {
            db.await(store.open(d.row().name(), w.start(), w.end(), d.row().limitMicroUsd(), d.row().hard()), "opening a budget period");
            mine.complete(null);
        } catch (RuntimeException e) {
            opened.remove(key, mine);
            mine.completeExceptionally(e);
            throw e;
        }
    }

    /** Why a hard budget refused a job that would reserve {@code reservations}: the quote, what is left, and when the period ends. */
    public Uni<FailedPrecondition> refusal(String tenant, List<JobStore.Reservation> reservations) {
        String[] names = reservations.stream().map(JobStore.Reservation::budget).distinct().toArray(String[]::new);
        return store.periodsAt(names, clock.instant()).map(periods -> {
            StringBuilder why = new StringBuilder();
            for (BudgetStore.Period p : periods) {
                long quote = reservations.stream().filter(r -> r.budget().equals(p.budget())).mapToLong(JobStore.Reservation::amountMicroUsd).sum();
                long left = p.limitMicroUsd() - p.spentMicroUsd() - p.reservedMicroUsd();
                if (!p.hard() || left >= quote) continue;
                if (!why.isEmpty()) why.append("; ");
                String whose = all.stream().filter(d -> d.row().name().equals(p.budget())).findFirst().map(Defined::whose).orElse("tenant " + tenant);
                why.append("the job may cost up to ").append(usd(quote)).append(" USD, and hard budget ").append(p.budget()).append(" of ")
                        .append(whose).append(" has ").append(usd(Math.max(0, left))).append(" USD left of ").append(usd(p.limitMicroUsd()))
                        .append(" (spent ").append(usd(p.spentMicroUsd())).append(", reserved ").append(usd(p.reservedMicroUsd()))
                        .append(") until ").append(p.end());
            }
            if (why.isEmpty()) why.append("a hard budget of tenant ").append(tenant).append(" had no room for the job when it was stored; try again");
            return new FailedPrecondition(dev.spillway.api.v1.ErrorReason.ERROR_REASON_BUDGET_EXCEEDED, java.util.Map.of("tenant", tenant), why + "; nothing was stored");
        });
    }

    private void keepQuietly() {
        try {
            if (!leadership.isLeader()) {
                reload(); // the leader keeps the books; every broker reserves at admission, with the budgets as defined now
                return;
            }
            keep();
        } catch (RuntimeException e) {
            LOG.warnf("budgets: booking the periods failed (%s); trying again in %s", e.getMessage(), settings.budgetEvery());
        }
    }

    /**
     * Books every budget's open period from the ledger: spent (the tenant's cost in the period so far), each open
     * reservation's remainder, and alerts. Blocking, one at a time.
     */
    public synchronized void keep() {
        reload();
        Instant now = clock.instant();
        List<BudgetStore.OpenReservation> open = db.await(store.openReservations(), "reading open reservations");
        Map<Instant, Map<String, LedgerStore.Sum>> byTenantFrom = new HashMap<>();
        Map<Instant, Map<String, LedgerStore.Sum>> byJobFrom = new HashMap<>();
        Map<String, String> out = new HashMap<>();
        Map<String, Integer> alertedBefore = new HashMap<>();
        for (BudgetStore.Period p : db.await(store.periodsAt(all.stream().map(d -> d.row().name()).toArray(String[]::new), now),
                "reading the budgets' periods")) {
            alertedBefore.put(p.budget(), p.alerted());
        }
        for (Defined d : all) {
            BudgetPeriod.Window w = d.period().at(now);
            if (w == null) continue;
            open(d, w);
            Map<String, LedgerStore.Sum> tenants = byTenantFrom.computeIfAbsent(w.start(), s -> sums(s, LedgerStore.Grouping.TENANT));
            Map<String, LedgerStore.Sum> jobs = byJobFrom.computeIfAbsent(w.start(), s -> sums(s, LedgerStore.Grouping.JOB));
            long spent = 0;
            for (String member : d.tenants()) {
                LedgerStore.Sum t = tenants.get(member);
                if (t != null) spent += t.cloudMicroUsd() + (d.row().onPrem() ? t.onPremMicroUsd() : 0);
            }
            List<UUID> ids = new ArrayList<>();
            List<Long> remaining = new ArrayList<>();
            for (BudgetStore.OpenReservation r : open) {
                if (!r.budget().equals(d.row().name()) || !r.periodStart().equals(w.start())) continue;
                LedgerStore.Sum job = jobs.get(r.jobId().toString());
                long actual = job == null ? 0 : job.cloudMicroUsd() + (d.row().onPrem() ? job.onPremMicroUsd() : 0);
                long left = dev.spillway.core.cost.BudgetBooks.remaining(new dev.spillway.core.cost.BudgetBooks.Held(r.amountMicroUsd(), actual,
                        r.jobEnded()));
                ids.add(r.jobId());
                remaining.add(left);
            }
            if (d.row().hard() && spent >= d.row().limitMicroUsd()) {
                for (String member : d.tenants()) {
                    out.putIfAbsent(member, "hard budget " + d.row().name() + " of " + d.whose() + " is spent (" + usd(spent) + " of "
                            + usd(d.row().limitMicroUsd()) + " USD until " + w.end() + "): bursting buys nothing more for it");
                }
            }
            int alerted = alert(d, w, spent, alertedBefore.getOrDefault(d.row().name(), 0));
            db.await(store.settle(d.row().name(), w.start(), spent, ids, remaining, alerted), "booking a budget period");
            usedRatio(d)[0] = (double) spent / d.row().limitMicroUsd();
        }
        spentOut = Map.copyOf(out);
        notBookedYet = Map.of();
    }

    /**
     * Why bursting buys nothing for {@code tenant}'s waiting tasks (one of its hard budgets is spent), or null. The burst
     * planner's spend cap: what admitted jobs may cost is reserved when they are admitted; a tenant whose spending has
     * reached a hard limit anyway (prices rose, or its jobs predate the budget) gets no new capacity.
     */
    @Override
    public String burstRefusal(String tenant) {
        String spent = spentOut.get(tenant);
        return spent != null ? spent : notBookedYet.get(tenant);
    }

    @Override
    public boolean anySpent() {
        return !spentOut.isEmpty() || !notBookedYet.isEmpty();
    }

    private Map<String, LedgerStore.Sum> sums(Instant from, LedgerStore.Grouping grouping) {
        CostLedger.Report r = db.await(ledger.report(new CostLedger.Query(from, null, grouping, null, null, null)), "reading the ledger for budgets");
        Map<String, LedgerStore.Sum> out = new HashMap<>();
        for (LedgerStore.Sum s : r.groups()) out.put(s.key(), s);
        return out;
    }

    /** The highest threshold {@code spent} has crossed, alerting (once per period) those crossed since the last keeping. */
    private int alert(Defined d, BudgetPeriod.Window w, long spent, int before) {
        int reached = dev.spillway.core.cost.BudgetBooks.alertLevel(d.row().alerts(), spent, d.row().limitMicroUsd(), before);
        if (reached > before) {
            String message = d.whose() + " has spent " + usd(spent) + " USD of its " + (d.row().hard() ? "hard" : "soft")
                    + " budget " + d.row().name() + " (" + usd(d.row().limitMicroUsd()) + " USD until " + w.end() + "): " + reached + " %";
            LOG.warn("budget alert: " + message);
            db.await(store.event(d.row().name(), d.row().tenant(), "ALERT_" + reached, message), "recording a budget alert");
        }
        return reached;
    }

    /** The cell of a budget's used-ratio gauge (spent / limit), registered once. */
    private double[] usedRatio(Defined d) {
        return usedRatio.computeIfAbsent(d.row().name(), name -> {
            double[] c = new double[1];
            Gauge.builder("spillway_budget_used_ratio", c, x -> x[0]).description("Spent / limit of a budget's current period")
                    .tag("tenant", d.row().tenant()).tag("budget", name).register(registry);
            return c;
        });
    }

    public BudgetStore store() {
        return store;
    }

    public static String usd(long micro) {
        return BigDecimal.valueOf(micro, 6).stripTrailingZeros().setScale(Math.max(2, BigDecimal.valueOf(micro, 6).stripTrailingZeros().scale()),
                java.math.RoundingMode.UNNECESSARY).toPlainString();
    }
}
