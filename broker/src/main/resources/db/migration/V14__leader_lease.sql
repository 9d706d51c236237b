-- High availability: several brokers share this database; one of them, the leader, runs the scheduling loop, the
-- node leases, bursting and the bookkeeping timers. Leadership is a lease on the one row below, taken and renewed
-- with the database's clock. The epoch grows by one at every takeover and is the fencing token: every write only the
-- leader may do first calls spillway_fence(epoch) in its transaction, which fails the transaction unless that epoch
-- is still the leader's. A broker that was paused past its lease and wakes up still believing it leads changes nothing.

CREATE TABLE leader (
    name        text PRIMARY KEY,
    epoch       bigint NOT NULL,
    holder      text,
    -- Where the holder serves agents and the API (host:port), for followers to send agents and calls on.
    address     text,
    acquired_at timestamptz,
    expires_at  timestamptz NOT NULL
);
INSERT INTO leader (name, epoch, expires_at) VALUES ('broker', 0, '1970-01-01T00:00:00Z');

-- Every broker process that shares this database, as each last said (spillway status).
CREATE TABLE broker_instance (
    id         text PRIMARY KEY,
    address    text NOT NULL,
    version    text NOT NULL,
    started_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL
);

CREATE FUNCTION spillway_fence(expected bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    current bigint;
BEGIN
    SELECT epoch INTO current FROM leader WHERE name = 'broker';
    IF current IS DISTINCT FROM expected THEN
        RAISE EXCEPTION USING ERRCODE = 'SPWF1',
            MESSAGE = format('fenced: epoch %s is no longer the leader''s (the leader''s epoch is %s)', expected, current);
    END IF;
    RETURN true;
END $$;

-- Which leader wrote each task event and asked for each cloud instance (NULL: not a leader-only write, such as a
-- submission or a cancellation, which any broker may do).
ALTER TABLE task_event ADD COLUMN epoch bigint;
ALTER TABLE cloud_instance ADD COLUMN epoch bigint;
