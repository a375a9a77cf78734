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
