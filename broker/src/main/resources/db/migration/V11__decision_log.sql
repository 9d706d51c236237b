-- The decision log: one row per attempt, written by the same statement that assigns the attempt, so no
-- attempt ever runs without a record of where it went and which rules allowed it there (the residency
-- proof). Rows go with their job when retention deletes it.
CREATE TABLE attempt_decision (
    job_id          uuid        NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    idx             int         NOT NULL,
    attempt         int         NOT NULL,
    tenant          text        NOT NULL,
    node            text        NOT NULL,
    pool            text        NOT NULL,
    region          text        NOT NULL,
    jurisdiction    text        NOT NULL,   -- '' when the node has none
    location        text        NOT NULL,   -- site:<site> or <cloud>:<region>
    policy_version  bigint,                 -- the policy set in force; NULL when none was
    residency       text        NOT NULL,   -- the requirement and how the node met it
    rules           jsonb       NOT NULL,   -- [{"rule", "outcome", "detail"}] in the order checked
    decided_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, idx, attempt),
    CONSTRAINT attempt_decision_rules_is_array CHECK (jsonb_typeof(rules) = 'array')
);
CREATE INDEX attempt_decision_by_tenant ON attempt_decision (tenant, decided_at);
CREATE INDEX attempt_decision_by_time ON attempt_decision (decided_at);
