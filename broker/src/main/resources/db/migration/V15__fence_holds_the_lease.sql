-- The fence of V14 read the epoch without a lock: a leader-only transaction whose check passed could still commit
-- after another broker took over, if it was slow between its check and its commit (a pause, a wait for a row lock).
-- The check now share-locks the lease row until the transaction ends: a takeover (an UPDATE of that row) waits for the
-- writes of the old epoch that are under way, and every fenced transaction that starts after it sees the new epoch.
CREATE OR REPLACE FUNCTION spillway_fence(expected bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    current bigint;
BEGIN
    SELECT epoch INTO current FROM leader WHERE name = 'broker' FOR SHARE;
    IF current IS DISTINCT FROM expected THEN
        RAISE EXCEPTION USING ERRCODE = 'SPWF1',
            MESSAGE = format('fenced: epoch %s is no longer the leader''s (the leader''s epoch is %s)', expected, current);
    END IF;
    RETURN true;
END $$;
