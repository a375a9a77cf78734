-- The auditors' digest goes through the outbox like campaign reports. Its rows are keyed by
-- kind and the first day they cover (`digest_daily`/`digest_weekly`, `period`), so that two
-- instances (or a restart, or `contactd digest --send` twice) queueing the same digest make
-- one row and one e-mail. Campaign reports keep `UNIQUE (kind, campaign_id)` and no period.
ALTER TABLE outbox ADD COLUMN period date;
CREATE UNIQUE INDEX outbox_kind_period ON outbox (kind, period) WHERE period IS NOT NULL;
