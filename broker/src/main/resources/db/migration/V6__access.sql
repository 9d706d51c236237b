-- API keys: only a SHA-256 hash of each secret is kept (the secrets are 256-bit random, so a
-- plain hash cannot be brute-forced); a key is usable while not revoked and not expired.
CREATE TABLE api_key (
    id           uuid PRIMARY KEY,
    secret_hash  text NOT NULL UNIQUE,
    prefix       text NOT NULL,
    name         text NOT NULL DEFAULT '',
    tenant       text NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'operator', 'finops', 'submitter', 'viewer')),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Who did what. Appended in the same statement as the change it records.
CREATE TABLE audit_event (
    seq         bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    tenant      text,
    action      text NOT NULL,
    target      text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT '',
    remote      text
);
CREATE INDEX audit_event_action ON audit_event (action, seq DESC);

ALTER TABLE job ADD COLUMN submitted_by text;
