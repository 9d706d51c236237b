-- Spillway core schema: jobs, their tasks, task events, nodes.
-- Task states follow dev.spillway.core.task.TaskStateMachine; every state change is a
-- compare-and-set on (state, attempt), so a stale writer changes nothing.

CREATE TABLE pool (
    name        text PRIMARY KEY,
    kind        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE node (
    name           text PRIMARY KEY,
    id             uuid NOT NULL UNIQUE,
    pool           text NOT NULL REFERENCES pool (name),
    state          text NOT NULL,
    cpu_millis     bigint NOT NULL,
    memory_mib     bigint NOT NULL,
    gpus           int NOT NULL,
    labels         jsonb NOT NULL DEFAULT '{}',
    agent_version  text NOT NULL DEFAULT '',
    registered_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT node_state_known CHECK (state IN ('READY', 'DRAINING', 'LOST', 'DISCONNECTED'))
);

CREATE TABLE job (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    tenant          text NOT NULL,
    priority        int NOT NULL,
    task_count      int NOT NULL,
    state           text NOT NULL,
    -- The task template's scheduling shape, denormalised for the scheduler's snapshot.
    cpu_millis      bigint NOT NULL,
    memory_mib      bigint NOT NULL,
    gpus            int NOT NULL,
    node_selector   jsonb NOT NULL DEFAULT '{}',
    pools           text[] NOT NULL DEFAULT '{}',
    labels          jsonb NOT NULL DEFAULT '{}',
    max_retries     int NOT NULL,
    initial_backoff_ms bigint NOT NULL,
    max_backoff_ms  bigint NOT NULL,
    -- The whole spec as submitted (spillway.v1.JobSpec, binary protobuf).
    spec            bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CONSTRAINT job_state_known CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    CONSTRAINT job_positive_request CHECK (cpu_millis > 0 AND memory_mib > 0 AND gpus >= 0 AND task_count > 0)
);
CREATE INDEX job_listing ON job (created_at DESC, id DESC);
CREATE INDEX job_by_tenant ON job (tenant, created_at DESC);
CREATE INDEX job_unfinished ON job (id) WHERE finished_at IS NULL;

CREATE TABLE job_label (
    job_id  uuid NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    key     text NOT NULL,
    value   text NOT NULL,
    PRIMARY KEY (job_id, key)
);
CREATE INDEX job_label_lookup ON job_label (key, value);

CREATE TABLE task (
    job_id       uuid NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    idx          int NOT NULL,
    state        text NOT NULL,
    attempt      int NOT NULL DEFAULT 0,
    node         text,
    exit_code    int,
    failures     int NOT NULL DEFAULT 0,
    losses       int NOT NULL DEFAULT 0,
    queued_at    timestamptz NOT NULL DEFAULT now(),
    not_before   timestamptz NOT NULL DEFAULT '-infinity',
    assigned_at  timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    reason       text NOT NULL DEFAULT 'submitted',
    message      text NOT NULL DEFAULT '',
    cpu_time_ms  bigint,
    peak_memory_mib bigint,
    PRIMARY KEY (job_id, idx),
    CONSTRAINT task_state_known CHECK (state IN ('QUEUED', 'ASSIGNED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED'))
);
-- The scheduler's queue, the per-node allocation and the "is the job finished" check each read
-- only a small live subset of tasks.
CREATE INDEX task_queue ON task (queued_at, job_id, idx) WHERE state = 'QUEUED';
CREATE INDEX task_on_node ON task (node) WHERE state IN ('ASSIGNED', 'RUNNING');
CREATE INDEX task_unfinished ON task (job_id) WHERE state IN ('QUEUED', 'ASSIGNED', 'RUNNING');

CREATE TABLE task_event (
    seq      bigserial PRIMARY KEY,
    job_id   uuid NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    idx      int NOT NULL,
    attempt  int NOT NULL,
    state    text NOT NULL,
    node     text,
    reason   text NOT NULL,
    message  text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_event_by_job ON task_event (job_id, seq);
