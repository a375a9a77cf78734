-- E-mail and SMS sent during a call (issue 14): one row per message, written before it is
-- sent and keyed by (call, template, trigger), so a rule that fires twice (a replay after a
-- crash, an operator's double click) makes one row and one message. A row is never deleted.
CREATE TABLE messages (
    id            bigserial   PRIMARY KEY,
    call_uuid     uuid        NOT NULL,
    template      text        NOT NULL,
    -- what asked for it: 'operator', 'after_confirm', 'when_unreached', ...
    trigger       text        NOT NULL,
    -- the campaign of the call, when it was a campaign's
    campaign_id   bigint,
    channel       text        NOT NULL CHECK (channel IN ('email', 'sms')),
    -- an e-mail address or an E.164 number, checked before the row is written
    recipient     text        NOT NULL,
    -- as rendered when queued (the template may change later; this is what was sent)
    subject       text,
    body          text        NOT NULL,
    attachments   text[]      NOT NULL DEFAULT '{}',
    state         text        NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    -- sends tried so far
    tries         integer     NOT NULL DEFAULT 0,
    last_error    text,
    next_at       timestamptz NOT NULL DEFAULT now(),
    -- while `sending`: the sender holding it; past this it is taken over (its sender died)
    lease_until   timestamptz,
    sent_at       timestamptz,
    -- the provider's id (SMTP reply, gateway message id); our own reference is `ref`
    provider_id   text,
    -- Message-ID (e-mail) or client_ref (SMS): the same on every send of this row, so a
    -- duplicate after a crash is recognisable downstream
    ref           text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_uuid, template, trigger)
);
CREATE INDEX messages_due ON messages (next_at) WHERE state IN ('queued', 'sending');
CREATE INDEX messages_campaign ON messages (campaign_id) WHERE campaign_id IS NOT NULL;

-- Every send of a message: started before the provider is asked, ended with what it said.
-- `result` stays 'sending' if contactd died in between (marked 'interrupted' when the
-- message is taken over: the provider may or may not have it).
CREATE TABLE message_attempts (
    message_id    bigint      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attempt_no    integer     NOT NULL,
    instance      text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    result        text        NOT NULL DEFAULT 'sending'
                  CHECK (result IN ('sending', 'accepted', 'retry', 'rejected', 'interrupted')),
    error         text,
    provider_id   text,
    PRIMARY KEY (message_id, attempt_no)
);

-- A notice campaign's rules: the template sent after the subscriber pressed the
-- confirmation key, and the one sent when they were not reached after the last retry.
ALTER TABLE campaigns ADD COLUMN after_confirm text;
ALTER TABLE campaigns ADD COLUMN when_unreached text;
