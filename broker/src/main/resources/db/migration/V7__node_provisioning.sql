-- What is fixed about a node when its join token is minted, not declared by its agent: labels
-- (everything under spillway.dev/ comes only from here) and a capacity ceiling (NULL: none; the
-- three columns are all set or all NULL). The token carries them; the node keeps them for every
-- later registration with its node credential. A token minted with replace_existing may
-- re-provision a name that already has a credential.
ALTER TABLE join_token ADD COLUMN labels jsonb NOT NULL DEFAULT '{}';
ALTER TABLE join_token ADD COLUMN max_cpu_millis bigint;
ALTER TABLE join_token ADD COLUMN max_memory_mib bigint;
ALTER TABLE join_token ADD COLUMN max_gpus int;
ALTER TABLE join_token ADD COLUMN replace_existing boolean NOT NULL DEFAULT false;

ALTER TABLE node ADD COLUMN fixed_labels jsonb NOT NULL DEFAULT '{}';
ALTER TABLE node ADD COLUMN max_cpu_millis bigint;
ALTER TABLE node ADD COLUMN max_memory_mib bigint;
ALTER TABLE node ADD COLUMN max_gpus int;

CREATE INDEX join_token_unspent ON join_token (node_name) WHERE used_at IS NULL;
