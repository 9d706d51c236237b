-- Cloud instances the broker asked for (desired state), with what it saw of them. A row is
-- written (REQUESTED) before the provider is called, and its id is the launch's idempotency key,
-- so a broker that dies mid-launch finds the row and repeats the same, idempotent launch.
CREATE TABLE cloud_instance (
    id                  uuid PRIMARY KEY,
    pool                text NOT NULL,
    node_name           text NOT NULL UNIQUE,
    provider_instance   text,
    instance_type       text NOT NULL,
    region              text NOT NULL,
    zone                text NOT NULL,
    spot                boolean NOT NULL,
    price_usd_per_hour  double precision NOT NULL,
    cpu_millis          bigint NOT NULL,
    memory_mib          bigint NOT NULL,
    gpus                int NOT NULL,
    state               text NOT NULL,
    reason              text NOT NULL DEFAULT '',
    requested_at        timestamptz NOT NULL DEFAULT now(),
    launched_at         timestamptz,
    joined_at           timestamptz,
    draining_at         timestamptz,
    terminated_at       timestamptz,
    CONSTRAINT cloud_instance_state_known CHECK (state IN ('REQUESTED', 'PROVISIONING', 'JOINED', 'DRAINING', 'TERMINATED', 'FAILED'))
);
CREATE INDEX cloud_instance_live ON cloud_instance (pool) WHERE state IN ('REQUESTED', 'PROVISIONING', 'JOINED', 'DRAINING');
