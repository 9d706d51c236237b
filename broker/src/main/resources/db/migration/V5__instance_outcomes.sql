-- What the burst decision needs to learn from earlier launches and to explain instances on their way:
-- a stable reason code per transition (never_joined, no_capacity, setup_error, ...), the jobs whose
-- waiting tasks an instance was launched for, and how many waiting tasks it was expected to hold.
ALTER TABLE cloud_instance ADD COLUMN reason_code text NOT NULL DEFAULT '';
ALTER TABLE cloud_instance ADD COLUMN for_jobs text[] NOT NULL DEFAULT '{}';
ALTER TABLE cloud_instance ADD COLUMN expected_tasks int NOT NULL DEFAULT 0;
CREATE INDEX cloud_instance_recent ON cloud_instance (requested_at);
