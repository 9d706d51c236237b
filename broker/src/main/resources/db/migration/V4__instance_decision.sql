-- Why the broker launched each instance (the burst decision), kept apart from the reason of its
-- latest transition so it can still be explained after the instance is gone.
ALTER TABLE cloud_instance ADD COLUMN decision text NOT NULL DEFAULT '';
