-- Idempotent submissions: the first job a (tenant, request id) created, for 24 hours.
CREATE TABLE submit_request (
    tenant       text NOT NULL,
    request_id   text NOT NULL,
    job_id       uuid NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    -- SHA-256 of the submitted spec (deterministic protobuf encoding), to tell a retry from a different job.
    spec_sha256  bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, request_id)
);
CREATE INDEX submit_request_age ON submit_request (created_at);

-- The fair queue: each job counts its QUEUED tasks, maintained by every statement that moves a
-- task into or out of QUEUED (under the job's row lock), so a scheduling cycle finds the jobs with
-- work without reading the queued tasks, and the queue depth is a sum over those jobs.
ALTER TABLE job ADD COLUMN queued int NOT NULL DEFAULT 0;
UPDATE job j SET queued = q.n
FROM (SELECT job_id, count(*)::int AS n FROM task WHERE state = 'QUEUED' GROUP BY job_id) q
WHERE j.id = q.job_id;
ALTER TABLE job ADD CONSTRAINT job_queued_in_range CHECK (queued >= 0 AND queued <= task_count);
CREATE INDEX job_with_queued ON job (priority DESC, created_at) WHERE queued > 0;

-- A job's queued tasks in queue order, read a page at a time per job.
DROP INDEX task_queue;
CREATE INDEX task_queue_by_job ON task (job_id, queued_at, idx) WHERE state = 'QUEUED';
