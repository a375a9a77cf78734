-- Campaign-driver fencing (issue 15): the Redis lease says which instance drives a
-- campaign, but a driver that stalled past its lease (or a Redis failover that lost the
-- grant) could still claim subscribers. The token lives here, bumped by each new driver
-- before it recovers, and every claim of subscribers checks it in the same statement: a
-- stale driver's claim finds a larger token and claims nothing.
CREATE TABLE campaign_fences (
    campaign_id bigint      PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    token       bigint      NOT NULL,
    instance    text        NOT NULL,
    since       timestamptz NOT NULL DEFAULT now()
);

-- Who took an operator's callback to dial it (`instance@host:pid`) and when: a finished
-- campaign has no driver, so a callback left `dialing` is settled only by a later process
-- of the instance that took it (that one is gone), or once it is long stale, never while
-- another live instance may be dialing it.
ALTER TABLE operator_callbacks
    ADD COLUMN claimed_by text,
    ADD COLUMN claimed_at timestamptz;
