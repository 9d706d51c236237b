-- Retention (dev.spillway.broker.retention.RetentionSweeper) deletes finished jobs, spent or expired join
-- tokens, ended cloud instance records and old audit events in small batches. These indexes let each batch find
-- its oldest rows without reading the whole table (audit events go in seq order, which is time order).
CREATE INDEX job_finished ON job (finished_at) WHERE finished_at IS NOT NULL;
-- When a token stopped being usable: spent, else its expiry.
CREATE INDEX join_token_done ON join_token ((coalesce(used_at, expires_at)));
CREATE INDEX cloud_instance_ended ON cloud_instance (terminated_at) WHERE state IN ('TERMINATED', 'FAILED');

-- What an ended cloud instance cost, kept after its cloud_instance record is deleted: written by the same
-- statement that deletes the record, so no instance's cost is ever lost. cost_usd is its price times its lifetime
-- from launch to end (0 when it was never launched), as the record reported it.
CREATE TABLE instance_cost_history (
    instance_id         uuid PRIMARY KEY,
    pool                text NOT NULL,
    node_name           text NOT NULL,
    provider_instance   text,
    instance_type       text NOT NULL,
    region              text NOT NULL,
    zone                text NOT NULL,
    spot                boolean NOT NULL,
    price_usd_per_hour  double precision NOT NULL,
    requested_at        timestamptz NOT NULL,
    launched_at         timestamptz,
    terminated_at       timestamptz NOT NULL,
    cost_usd            double precision NOT NULL,
    final_state         text NOT NULL,
    reason_code         text NOT NULL DEFAULT '',
    for_jobs            text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX instance_cost_history_terminated ON instance_cost_history (terminated_at);
