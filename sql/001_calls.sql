-- Every call contactd placed or took, one row per channel UUID (the origination_uuid for
-- calls it placed: written BEFORE the originate, so a crash can be reconciled).
CREATE TABLE calls (
    uuid          uuid PRIMARY KEY,
    node          text        NOT NULL,
    direction     text        NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    purpose       text        NOT NULL,
    trunk         text,
    number        text,
    entry         text,
    state         text        NOT NULL CHECK (state IN ('dialing', 'ringing', 'answered', 'ended', 'failed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    answered_at   timestamptz,
    ended_at      timestamptz,
    -- raw FreeSWITCH cause and its Q.850 code: never collapsed into a guess
    hangup_cause  text,
    q850          integer,
    billsec       integer,
    app_response  text,
    flow_step     text,
    -- who ended it: 'party' (the caller or subscriber), 'contactd', 'switch' (shutdown), 'unknown'
    hungup_by     text CHECK (hungup_by IN ('party', 'contactd', 'switch', 'unknown'))
);
CREATE INDEX calls_created_at ON calls (created_at);
CREATE INDEX calls_open ON calls (node) WHERE state IN ('dialing', 'ringing', 'answered');

-- ESL connection history per node: when each switch link went up or down and why.
CREATE TABLE switch_links (
    id        bigserial PRIMARY KEY,
    node      text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    state     text        NOT NULL,
    detail    text        NOT NULL DEFAULT '',
    live_calls integer
);
