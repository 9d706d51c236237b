package dev.spillway.broker.api;

import com.google.protobuf.Empty;
import com.google.protobuf.Timestamp;
import dev.spillway.api.ResourceNames;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.Budget;
import dev.spillway.api.v1.BudgetEvent;
import dev.spillway.api.v1.BudgetEventKind;
import dev.spillway.api.v1.BudgetServiceGrpc;
import dev.spillway.api.v1.DeleteBudgetRequest;
import dev.spillway.api.v1.GetBudgetRequest;
import dev.spillway.api.v1.ListBudgetsRequest;
import dev.spillway.api.v1.ListBudgetsResponse;
import dev.spillway.api.v1.SetBudgetRequest;
import dev.spillway.broker.cost.Budgets;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.Violation;
import dev.spillway.broker.listing.Filters;
import dev.spillway.broker.listing.Pages;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.store.BudgetStore;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.TenantScope;
import dev.spillway.core.cost.BudgetPeriod;
import dev.spillway.core.filter.Condition;
import dev.spillway.core.filter.FilterSchema;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/** spillway.v1.BudgetService. Roles are checked by {@link CallerInterceptor}; tenants here. */
@GrpcService
public class BudgetGrpcService extends BudgetServiceGrpc.BudgetServiceImplBase {

    private static final int EVENTS = 10;
    /** How an alert's kind is stored: ALERT_ and the percentage reached. */
    private static final String ALERT = "ALERT_";

    private final Budgets budgets;
    private final BudgetStore store;
    private final Audit audit;
    private final java.time.Clock clock;

    public BudgetGrpcService(Budgets budgets, Audit audit, java.time.Clock clock) {
        this.budgets = budgets;
        this.store = budgets.store();
        this.audit = audit;
        this.clock = clock;
    }

    @Override
    public void setBudget(SetBudgetRequest request, StreamObserver<Budget> out) {
        Caller caller = CallerInterceptor.caller();
        String remote = CallerInterceptor.remote();
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            Budget b = request.getBudget();
            List<Violation> v = new ArrayList<>();
            String name = ResourceNames.parseBudget(b.getName()).orElse(null);
            if (name == null) v.add(new Violation("budget.name", ResourceNames.problem("budget", b.getName())));
            if (b.getTenant().isBlank() || b.getTenant().equals(Budgets.COHORT)) {
                v.add(new Violation("budget.tenant", "required: a tenant, or cohort:NAME for a cohort of the policy set's tenants"));
            }
            String period = b.getPeriod().isEmpty() ? "monthly" : b.getPeriod();
            try {
                period = BudgetPeriod.parse(period).text();
            } catch (IllegalArgumentException e) {
                v.add(new Violation("budget.period", e.getMessage()));
            }
            long limit = 0;
            // REQUIRED fields (tenant, limit) are checked from the annotations (FieldBehaviors) before this.
            if (!b.getLimit().getCurrencyCode().isEmpty() && !b.getLimit().getCurrencyCode().equals(Usd.CODE)) {
                v.add(new Violation("budget.limit.currency_code", "budgets are in USD, not " + b.getLimit().getCurrencyCode()));
            } else if ((b.getLimit().getUnits() > 0 && b.getLimit().getNanos() < 0) || (b.getLimit().getUnits() < 0 && b.getLimit().getNanos() > 0)
                    || Math.abs(b.getLimit().getNanos()) > 999_999_999) {
                v.add(new Violation("budget.limit", "units and nanos must have one sign, and nanos at most 999,999,999"));
            } else {
                limit = Usd.micros(b.getLimit());
                if (limit <= 0) v.add(new Violation("budget.limit", "above 0 (at least a millionth of a dollar)"));
            }
            List<Integer> alerts = b.getAlertsCount() == 0 ? List.of(50, 80, 100) : b.getAlertsList().stream().distinct().sorted().toList();
            for (int a : alerts) if (a < 1 || a > 1000) v.add(new Violation("budget.alerts", "percentages from 1 to 1000, not " + a));
            if (!v.isEmpty()) throw new InvalidRequest(v);
            BudgetStore.Budget row = new BudgetStore.Budget(name, b.getTenant(), period, limit, b.getHard(), alerts,
                    b.getOnPrem(), caller.subject(), clock.instant());
            return store.put(row)
                    .call(() -> audit.record(caller.subject(), b.getTenant(), "budget.set", name, (b.getHard() ? "hard " : "soft ")
                            + Budgets.usd(row.limitMicroUsd()) + " USD " + row.period(), remote).onFailure().recoverWithNull())
                    .emitOn(Infrastructure.getDefaultWorkerPool())
                    .invoke(budgets::changed)
                    .flatMap(done -> one(name, TenantScope.all()));
        }), out);
    }

    @Override
    public void getBudget(GetBudgetRequest request, StreamObserver<Budget> out) {
        TenantScope scope = CallerInterceptor.caller().readScope();
        ApiErrors.respond(Uni.createFrom().deferred(() -> one(RequestNames.budget("name", request.getName()), scope)), out);
    }

    @Override
    public void listBudgets(ListBudgetsRequest request, StreamObserver<ListBudgetsResponse> out) {
        ApiErrors.respond(list(request.getPageSize(), request.getPageToken(), request.getFilter(), CallerInterceptor.caller().readScope()), out);
    }

    /** What ListBudgets can be filtered by (AIP-160). */
    static final FilterSchema FILTER = FilterSchema.builder().text("tenant").text("period").bool("hard").bool("on_prem").build();

    Uni<ListBudgetsResponse> list(int pageSize, String pageToken, String filter, TenantScope scope) {
        return Uni.createFrom().deferred(() -> {
            int size = Pages.size(pageSize, 100, 1000);
            Condition condition = Filters.parse(FILTER, filter);
            String[] tenants = scope instanceof TenantScope.Only only ? only.tenants().toArray(String[]::new) : null;
            // Budgets are few: read whole, filtered and paged here.
            return store.list(tenants).flatMap(rows -> {
                List<BudgetStore.Budget> matching = rows.stream().filter(r -> condition.test(field -> switch (field) {
                    case "tenant" -> r.tenant();
                    case "period" -> r.period();
                    case "hard" -> r.hard();
                    case "on_prem" -> r.onPrem();
                    default -> throw new IllegalStateException(field);
                })).sorted(java.util.Comparator.comparing(BudgetStore.Budget::name)).toList();
                Pages.Page<BudgetStore.Budget> page = Pages.slice(matching, BudgetStore.Budget::name, size, pageToken, "budgets", condition.toString());
                return withFigures(Uni.createFrom().item(page.items()))
                        .map(list -> ListBudgetsResponse.newBuilder().addAllBudgets(list).setNextPageToken(page.nextPageToken()).build());
            });
        });
    }

    @Override
    public void deleteBudget(DeleteBudgetRequest request, StreamObserver<Empty> out) {
        Caller caller = CallerInterceptor.caller();
        String remote = CallerInterceptor.remote();
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            String name = RequestNames.budget("name", request.getName());
            return store.delete(name).flatMap(deleted -> {
                if (!deleted) throw new NotFound(ResourceNames.budget(name), "no budget " + name);
                return audit.record(caller.subject(), null, "budget.delete", name, "", remote).onFailure().recoverWithNull();
            });
        }).emitOn(Infrastructure.getDefaultWorkerPool()).invoke(budgets::changed).replaceWith(Empty.getDefaultInstance()), out);
    }

    /** One budget the scope may read (another tenant's is NOT_FOUND, as an unknown one). */
    Uni<Budget> one(String name, TenantScope scope) {
        return withFigures(store.list(null)).map(all -> all.stream().filter(b -> b.getName().equals(ResourceNames.budget(name)) && scope.includes(b.getTenant()))
                .findFirst().orElseThrow(() -> new NotFound(ResourceNames.budget(name), "no budget " + name)));
    }

    /** The budgets with their current periods' figures and latest events. */
    private Uni<List<Budget>> withFigures(Uni<List<BudgetStore.Budget>> rows) {
        Instant now = clock.instant();
        return rows.flatMap(list -> {
            String[] names = list.stream().map(BudgetStore.Budget::name).toArray(String[]::new);
            return store.periodsAt(names, now).flatMap(periods -> store.events(names, EVENTS * Math.max(1, names.length)).map(events -> {
                Map<String, BudgetStore.Period> byName = periods.stream().collect(Collectors.toMap(BudgetStore.Period::budget, Function.identity()));
                List<Budget> out = new ArrayList<>();
                for (BudgetStore.Budget b : list) {
                    Budget.Builder m = Budget.newBuilder().setName(ResourceNames.budget(b.name())).setTenant(b.tenant()).setPeriod(b.period())
                            .setLimit(Usd.ofMicros(b.limitMicroUsd())).setHard(b.hard()).addAllAlerts(b.alerts()).setOnPrem(b.onPrem());
                    BudgetPeriod.Window w = BudgetPeriod.parse(b.period()).at(now);
                    BudgetStore.Period p = byName.get(b.name());
                    if (w != null) {
                        long spent = p == null ? 0 : p.spentMicroUsd();
                        long reserved = p == null ? 0 : p.reservedMicroUsd();
                        m.setPeriodStart(ts(w.start())).setPeriodEnd(ts(w.end())).setSpent(Usd.ofMicros(spent))
                                .setReserved(Usd.ofMicros(reserved)).setForecast(Usd.ofMicros(w.forecastMicroUsd(spent, reserved, now)));
                    }
                    events.stream().filter(e -> e.budget().equals(b.name())).limit(EVENTS).forEach(e -> m.addEvents(BudgetEvent.newBuilder()
                            .setTime(ts(e.at())).setMessage(e.message()).mergeFrom(kind(e.kind())).build()));
                    out.add(m.build());
                }
                return out;
            }));
        });
    }

    /** A stored event kind ({@code ALERT_80}) as the API gives it: its kind and percentage. */
    private static BudgetEvent kind(String stored) {
        BudgetEvent.Builder b = BudgetEvent.newBuilder();
        if (stored.startsWith(ALERT) && stored.substring(ALERT.length()).chars().allMatch(Character::isDigit) && stored.length() > ALERT.length()) {
            b.setKind(BudgetEventKind.BUDGET_EVENT_KIND_ALERT).setThresholdPercent(Integer.parseInt(stored.substring(ALERT.length())));
        }
        return b.build();
    }

    private static Timestamp ts(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }
}
