-- One-time join tokens and per-node credentials. Only SHA-256 hashes are stored: a database dump
-- gives no one a way in.
CREATE TABLE join_token (
    token_hash  text PRIMARY KEY,
    node_name   text NOT NULL,
    pool        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

ALTER TABLE node ADD COLUMN credential_hash text;
