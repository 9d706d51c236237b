-- Policy sets as FinOps teams apply them: each apply stores the whole set of files as a new
-- version; the highest version is the one in force. Nothing is updated in place, so every
-- decision that names a version can be explained from what that version said.
CREATE TABLE policy_version (
    version      bigint PRIMARY KEY,
    digest       text        NOT NULL,
    files        jsonb       NOT NULL,   -- [{"name": ..., "text": ...}, ...] in the order applied
    applied_by   text        NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    comment      text        NOT NULL DEFAULT '',
    summary      jsonb       NOT NULL,   -- counts of what the set holds (rules, tenants, datasets)
    CONSTRAINT policy_version_positive CHECK (version > 0),
    CONSTRAINT policy_files_is_array CHECK (jsonb_typeof(files) = 'array')
);
