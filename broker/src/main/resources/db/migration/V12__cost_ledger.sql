-- The cost ledger (dev.spillway.broker.cost.CostLedger, its rule in dev.spillway.core.cost.Ledger).

-- What each attempt held, where and for how long: written by the statement that ends the attempt (so an attempt's
-- usage is on disk with its end), kept after its job is deleted. The request is the job's at the time it ran.
CREATE TABLE attempt_usage (
    job_id      uuid NOT NULL,
    idx         int NOT NULL,
    attempt     int NOT NULL,
    tenant      text NOT NULL,
    node        text NOT NULL,
    pool        text NOT NULL,
    cpu_millis  bigint NOT NULL,
    memory_mib  bigint NOT NULL,
    gpus        int NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL,
    PRIMARY KEY (job_id, idx, attempt),
    CONSTRAINT attempt_usage_in_order CHECK (ended_at >= started_at)
);
CREATE INDEX attempt_usage_ended ON attempt_usage (ended_at);

-- Closed hours of the ledger: per hour, a job's part of each cloud instance (or of on-prem work on a node) and each
-- instance's idle rest (job_id null), in millionths of a dollar. Hours are closed once, a few minutes after they end;
-- the hours since are read live from the same records by the same rule.
CREATE TABLE cost_entry (
    period_start        timestamptz NOT NULL,
    kind                text NOT NULL,
    pool                text NOT NULL,
    node                text NOT NULL,
    instance_id         uuid,
    job_id              uuid,
    tenant              text,
    job_name            text,
    labels              jsonb NOT NULL DEFAULT '{}',
    seconds             double precision NOT NULL,
    cost_micro_usd      bigint NOT NULL,
    -- What was bought: the instance's offering and hourly price (cloud), or the request's hourly price on the rate card (on-prem).
    instance_type       text,
    region              text,
    zone                text,
    spot                boolean,
    unit_usd_per_hour   double precision NOT NULL,
    CONSTRAINT cost_entry_kind_known CHECK (kind IN ('CLOUD', 'ON_PREM')),
    CONSTRAINT cost_entry_not_negative CHECK (cost_micro_usd >= 0 AND seconds >= 0),
    CONSTRAINT cost_entry_idle_is_cloud CHECK (job_id IS NOT NULL OR kind = 'CLOUD')
);
CREATE INDEX cost_entry_period ON cost_entry (period_start);

-- Up to when the ledger's hours are closed (one row).
CREATE TABLE cost_ledger (
    one           boolean PRIMARY KEY DEFAULT true CHECK (one),
    closed_until  timestamptz NOT NULL
);
