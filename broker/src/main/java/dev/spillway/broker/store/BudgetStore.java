package dev.spillway.broker.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Budgets, their periods, the jobs' reservations in them, and their events. */
@ApplicationScoped
public class BudgetStore {

    private final Pool pool;

    private final Fencing fencing;

    public BudgetStore(Pool pool, Fencing fencing) {
        this.pool = pool;
        this.fencing = fencing;
    }

    /** A budget as defined. {@code period} is {@link dev.spillway.core.cost.BudgetPeriod#text()}. */
    public record Budget(String name, String tenant, String period, long limitMicroUsd, boolean hard, List<Integer> alerts, boolean onPrem,
                         String createdBy, Instant updatedAt) {
    }

    /** A period of a budget with its figures. */
    public record Period(String budget, Instant start, Instant end, long limitMicroUsd, boolean hard, long spentMicroUsd, long reservedMicroUsd,
                         int alerted) {
    }

    /** A job's reservation that still holds something, with whether its job has ended (or is gone). */
    public record OpenReservation(UUID jobId, String budget, Instant periodStart, long amountMicroUsd, long remainingMicroUsd, boolean jobEnded) {
    }

    public record Event(long seq, String budget, String tenant, Instant at, String kind, String message) {
    }

    /** Creates or replaces the budget; a period already open takes the new limit and kind at once. */
    public Uni<Void> put(Budget b) {
        return pool.withTransaction(tx -> tx.preparedQuery("""
                        INSERT INTO budget (name, tenant, period, limit_micro_usd, hard, alerts, on_prem, created_by, updated_at)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
                        ON CONFLICT (name) DO UPDATE SET tenant = $2, period = $3, limit_micro_usd = $4, hard = $5, alerts = $6, on_prem = $7,
                                                         created_by = $8, updated_at = now()""")
                .execute(Tuple.from(List.of(b.name(), b.tenant(), b.period(), b.limitMicroUsd(), b.hard(), b.alerts().toArray(Integer[]::new),
                        b.onPrem(), b.createdBy())))
                .flatMap(done -> tx.preparedQuery("UPDATE budget_period SET limit_micro_usd = $2, hard = $3 WHERE budget = $1 AND period_end > now()")
                        .execute(Tuple.of(b.name(), b.limitMicroUsd(), b.hard())))
                .replaceWithVoid());
    }

    public Uni<Boolean> delete(String name) {
        return pool.preparedQuery("DELETE FROM budget WHERE name = $1").execute(Tuple.of(name)).map(r -> r.rowCount() > 0);
    }

    /** Every budget, or only those of {@code tenants} (not null). */
    public Uni<List<Budget>> list(String[] tenants) {
        return pool.preparedQuery("SELECT * FROM budget WHERE $1::text[] IS NULL OR tenant = ANY($1) ORDER BY name").execute(Tuple.of((Object) tenants))
                .map(rows -> {
                    List<Budget> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Budget(r.getString("name"), r.getString("tenant"), r.getString("period"), r.getLong("limit_micro_usd"),
                                r.getBoolean("hard"), List.of(r.getArrayOfIntegers("alerts")), r.getBoolean("on_prem"), r.getString("created_by"),
                                r.getOffsetDateTime("updated_at").toInstant()));
                    }
                    return out;
                });
    }

    /** Opens a budget's period if it is not open yet (idempotent). */
    public Uni<Void> open(String budget, Instant start, Instant end, long limitMicroUsd, boolean hard) {
        return pool.preparedQuery("""
                        INSERT INTO budget_period (budget, period_start, period_end, limit_micro_usd, hard) VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT (budget, period_start) DO NOTHING""")
                .execute(Tuple.of(budget, at(start), at(end), limitMicroUsd, hard)).replaceWithVoid();
    }

    /** The periods of these budgets that hold {@code at}. */
    public Uni<List<Period>> periodsAt(String[] budgets, Instant at) {
        return pool.preparedQuery("SELECT * FROM budget_period WHERE budget = ANY($1) AND period_start <= $2 AND period_end > $2 ORDER BY budget")
                .execute(Tuple.of(budgets, at(at))).map(rows -> {
                    List<Period> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Period(r.getString("budget"), instant(r, "period_start"), instant(r, "period_end"), r.getLong("limit_micro_usd"),
                                r.getBoolean("hard"), r.getLong("spent_micro_usd"), r.getLong("reserved_micro_usd"), r.getInteger("alerted")));
                    }
                    return out;
                });
    }

    /** Reservations that still hold something, with whether their job has ended. */
    public Uni<List<OpenReservation>> openReservations() {
        return pool.query("""
                        SELECT r.job_id, r.budget, r.period_start, r.amount_micro_usd, r.remaining_micro_usd,
                               (j.id IS NULL OR j.finished_at IS NOT NULL) AS ended
                        FROM budget_reservation r LEFT JOIN job j ON j.id = r.job_id
                        WHERE r.remaining_micro_usd > 0""").execute()
                .map(rows -> {
                    List<OpenReservation> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new OpenReservation(r.getUUID("job_id"), r.getString("budget"), instant(r, "period_start"), r.getLong("amount_micro_usd"),
                                r.getLong("remaining_micro_usd"), r.getBoolean("ended")));
                    }
                    return out;
                });
    }

    /**
     * One step of a period's books, in one transaction: what is spent (from the ledger), what each reservation still holds
     * (the period's reserved total moves by the same amounts, so concurrent admissions are never lost), and the alert level.
     * The leader's to do (fenced): a deposed leader's late booking changes nothing.
     */
    public Uni<Void> settle(String budget, Instant periodStart, long spentMicroUsd, List<UUID> jobs, List<Long> remaining, int alerted) {
        return fencing.transaction(pool, (tx, epoch) -> tx.preparedQuery("""
                        WITH x AS (
                          SELECT * FROM unnest($3::uuid[], $4::bigint[]) AS x(job_id, remaining)),
                        r AS (
                          UPDATE budget_reservation b SET remaining_micro_usd = x.remaining
                          FROM x, budget_reservation old
                          WHERE b.job_id = x.job_id AND b.budget = $1 AND old.job_id = b.job_id AND old.budget = b.budget
                            AND b.remaining_micro_usd <> x.remaining
                          RETURNING x.remaining - old.remaining_micro_usd AS delta)
                        UPDATE budget_period SET spent_micro_usd = $5, reserved_micro_usd = greatest(0, reserved_micro_usd + (SELECT coalesce(sum(delta), 0) FROM r)),
                                                 alerted = greatest(alerted, $6)
                        WHERE budget = $1 AND period_start = $2""")
                .execute(Tuple.from(List.of(budget, at(periodStart), jobs.toArray(UUID[]::new), remaining.toArray(Long[]::new), spentMicroUsd, alerted)))
                .replaceWithVoid());
    }

    public Uni<Void> event(String budget, String tenant, String kind, String message) {
        return pool.preparedQuery("INSERT INTO budget_event (budget, tenant, kind, message) VALUES ($1, $2, $3, $4)")
                .execute(Tuple.of(budget, tenant, kind, message)).replaceWithVoid();
    }

    /** The latest events of these budgets, newest first. */
    public Uni<List<Event>> events(String[] budgets, int limit) {
        return pool.preparedQuery("SELECT * FROM budget_event WHERE budget = ANY($1) ORDER BY seq DESC LIMIT $2").execute(Tuple.of(budgets, limit))
                .map(rows -> {
                    List<Event> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Event(r.getLong("seq"), r.getString("budget"), r.getString("tenant"), instant(r, "at"), r.getString("kind"),
                                r.getString("message")));
                    }
                    return out;
                });
    }

    private static Instant instant(Row r, String column) {
        OffsetDateTime t = r.getOffsetDateTime(column);
        return t == null ? null : t.toInstant();
    }

    private static OffsetDateTime at(Instant t) {
        return t.atOffset(ZoneOffset.UTC);
    }
}
