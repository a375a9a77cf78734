-- Notification campaigns: a recorded message played to every subscriber of a list over a
-- fixed number of lines, with retries, calling windows and a report e-mailed at the end.
CREATE TABLE campaigns (
    id               bigserial PRIMARY KEY,
    name             text        NOT NULL,
    list_number      integer     NOT NULL,
    -- the message as the switch sees it (absolute path of a WAV file)
    audio            text        NOT NULL,
    -- ask the subscriber for a confirmation key after the message
    confirm          boolean     NOT NULL DEFAULT false,
    trunk            text        NOT NULL,
    lines            integer     NOT NULL CHECK (lines BETWEEN 1 AND 240),
    caller_id        text,
    -- calling window in the subscriber's time zone (or time_zone when set)
    window_days      text        NOT NULL DEFAULT 'mon-sat',
    window_start     time        NOT NULL DEFAULT '09:00',
    window_end       time        NOT NULL DEFAULT '20:00',
    time_zone        text,
    max_attempts     integer     NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    retry_busy_s     integer     NOT NULL DEFAULT 600,
    retry_no_answer_s integer    NOT NULL DEFAULT 1800,
    ring_s           integer     NOT NULL DEFAULT 30,
    state            text        NOT NULL CHECK (state IN ('running', 'paused', 'cancelled', 'finished')),
    -- who started it: the manager's extension (short code) or 'cli'
    created_by       text        NOT NULL,
    manager_email    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- set once every subscriber is done (finished or cancelled): the report goes out then
    finished_at      timestamptz
);

-- One row per subscriber of the campaign: where dialing stands for them.
CREATE TABLE campaign_targets (
    campaign_id  bigint      NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id   bigint      NOT NULL,
    phone        text        NOT NULL,
    tz           text,
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dialing', 'done')),
    -- final outcome once done: listened_full, listened_partial, busy, no_answer, failed,
    -- invalid, dnc, unknown, cancelled
    outcome      text,
    attempts     integer     NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_targets_due ON campaign_targets (campaign_id, next_at) WHERE status = 'pending';
CREATE INDEX campaign_targets_dialing ON campaign_targets (campaign_id) WHERE status = 'dialing';

-- Every originate of a campaign, written before the originate, keyed by its origination_uuid.
CREATE TABLE attempts (
    uuid             uuid        PRIMARY KEY,
    campaign_id      bigint      NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id       bigint      NOT NULL,
    attempt_no       integer     NOT NULL,
    number_dialed    text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    answered_at      timestamptz,
    -- set just before the message is sent to the switch: if set, the subscriber may have
    -- heard it, so a restart never dials them again
    playback_started_at timestamptz,
    ended_at         timestamptz,
    hangup_cause     text,
    q850             integer,
    listened_ms      integer,
    listened_full    boolean,
    confirm_key      text,
    outcome          text
);
CREATE INDEX attempts_campaign ON attempts (campaign_id, contact_id);

-- Outgoing e-mail, kept until the SMTP server accepted it: a report is never lost.
CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    kind          text        NOT NULL,
    campaign_id   bigint,
    recipients    text[]      NOT NULL,
    subject       text        NOT NULL,
    body          text        NOT NULL,
    attachment_name text,
    attachment    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    tries         integer     NOT NULL DEFAULT 0,
    next_try_at   timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    sent_at       timestamptz,
    UNIQUE (kind, campaign_id)
);
CREATE INDEX outbox_pending ON outbox (next_try_at) WHERE sent_at IS NULL;
