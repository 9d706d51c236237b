-- Budgets (dev.spillway.broker.cost.Budgets): a tenant's limit in USD per period, hard (enforced when jobs are
-- admitted) or soft (alerts only).
CREATE TABLE budget (
    name             text PRIMARY KEY,
    tenant           text NOT NULL,
    -- monthly, monthly:DAY, weekly:DAY or fixed:FROM/TO (dev.spillway.core.cost.BudgetPeriod).
    period           text NOT NULL,
    limit_micro_usd  bigint NOT NULL,
    hard             boolean NOT NULL,
    -- Percentages of the limit at which spending is alerted once per period.
    alerts           int[] NOT NULL DEFAULT '{50,80,100}',
    -- Whether on-prem work at the rate card counts, beside cloud cost.
    on_prem          boolean NOT NULL DEFAULT false,
    created_by       text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT budget_limit_positive CHECK (limit_micro_usd > 0)
);
CREATE INDEX budget_by_tenant ON budget (tenant);

-- A budget's periods as they come: what was spent (from the ledger) and what admitted jobs still hold reserved.
-- The limit is copied in, so that admission's conditional reservation reads one row.
CREATE TABLE budget_period (
    budget              text NOT NULL REFERENCES budget (name) ON DELETE CASCADE,
    period_start        timestamptz NOT NULL,
    period_end          timestamptz NOT NULL,
    limit_micro_usd     bigint NOT NULL,
    hard                boolean NOT NULL,
    spent_micro_usd     bigint NOT NULL DEFAULT 0,
    reserved_micro_usd  bigint NOT NULL DEFAULT 0,
    -- The highest alert threshold crossed this period (0: none).
    alerted             int NOT NULL DEFAULT 0,
    PRIMARY KEY (budget, period_start),
    CONSTRAINT budget_period_not_negative CHECK (spent_micro_usd >= 0 AND reserved_micro_usd >= 0)
);

-- What each admitted job holds of a budget's period: its not-to-exceed cost when admitted, and what is left of it as
-- its actual cost comes in (0 once the job has ended).
CREATE TABLE budget_reservation (
    job_id              uuid NOT NULL,
    budget              text NOT NULL,
    period_start        timestamptz NOT NULL,
    amount_micro_usd    bigint NOT NULL,
    remaining_micro_usd bigint NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, budget),
    FOREIGN KEY (budget, period_start) REFERENCES budget_period (budget, period_start) ON DELETE CASCADE
);
CREATE INDEX budget_reservation_open ON budget_reservation (budget, period_start) WHERE remaining_micro_usd > 0;

-- Alerts and refusals, for `spillway budgets` and the console.
CREATE TABLE budget_event (
    seq          bigserial PRIMARY KEY,
    budget       text NOT NULL,
    tenant       text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL,
    message      text NOT NULL
);
CREATE INDEX budget_event_by_budget ON budget_event (budget, seq DESC);

-- Admission's guard: a statement that stores jobs fails whole, with SQLSTATE SPWB1, when a hard budget refuses one.
CREATE FUNCTION spillway_budget_guard(reserved bigint, wanted bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF reserved <> wanted THEN
        RAISE EXCEPTION USING ERRCODE = 'SPWB1', MESSAGE = 'a hard budget has no room for the job''s not-to-exceed cost';
    END IF;
    RETURN true;
END $$;
