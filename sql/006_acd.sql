-- One row per caller who reached an operator queue: written when the caller enters the
-- queue and completed as the call goes on, so a supervisor (and the auditors' reports) can
-- see waits, answers, abandons and transfers. `call_uuid` is the caller's channel.
CREATE TABLE acd_calls (
    call_uuid        uuid        PRIMARY KEY,
    node             text        NOT NULL,
    queue            text        NOT NULL,
    caller           text,
    account          text,
    entered_at       timestamptz NOT NULL,
    -- how many operators' phones rang for it (a missed ring offers it again)
    offers           integer     NOT NULL DEFAULT 0,
    answered_at      timestamptz,
    operator         bigint      REFERENCES operators (id) ON DELETE SET NULL,
    -- seconds from entering the queue to an operator answering (or to leaving unanswered)
    waited_s         double precision,
    talk_s           double precision,
    wrap_up_s        double precision,
    -- the caller hung up while waiting (or while a phone rang), after this many seconds
    abandoned_after_s double precision,
    -- queue the call went to when it left this one: a transfer or an overflow
    transferred_to   text,
    recording        text,
    ended_at         timestamptz,
    outcome          text CHECK (outcome IN ('answered', 'abandoned', 'transferred', 'overflowed',
                                             'callback', 'lost'))
);
CREATE INDEX acd_calls_entered ON acd_calls (entered_at);
CREATE INDEX acd_calls_operator ON acd_calls (operator, entered_at);
-- the average handle time of a queue's last calls (estimated wait)
CREATE INDEX acd_calls_queue ON acd_calls (queue, entered_at);
-- the screen pop's "recent calls" of a caller or an account
CREATE INDEX acd_calls_caller ON acd_calls (caller, entered_at);
CREATE INDEX acd_calls_account ON acd_calls (account, entered_at);

-- Callbacks promised to callers who found the queue full or waited too long. Dialed later
-- to a free operator of the queue; `state` moves pending → dialing → done | failed.
CREATE TABLE acd_callbacks (
    id            bigserial   PRIMARY KEY,
    queue         text        NOT NULL,
    number        text        NOT NULL CHECK (number ~ '^\+?[0-9]{3,20}$'),
    -- the call that asked for it
    call_uuid     uuid,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    state         text        NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'dialing', 'done', 'failed')),
    attempts      integer     NOT NULL DEFAULT 0,
    last_attempt  timestamptz,
    operator      bigint      REFERENCES operators (id) ON DELETE SET NULL,
    result        text
);
CREATE INDEX acd_callbacks_pending ON acd_callbacks (queue, requested_at) WHERE state = 'pending';
