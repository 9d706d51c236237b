-- What each job was quoted when it was admitted: EstimateJob's figures for its spec on the cluster as it then was, kept
-- to be held against what the job cost. A quote has a bound or says why it has none; all three are NULL on jobs stored
-- before quotes were kept.
ALTER TABLE job
    ADD COLUMN quote_expected_micro_usd bigint,
    ADD COLUMN quote_not_to_exceed_micro_usd bigint,
    ADD COLUMN quote_unbounded text;
