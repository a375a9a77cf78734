-- Operator campaigns: a list worked by operators (preview, progressive or predictive
-- dialing). An operator campaign is a campaign (sql/003: list, trunk, lines, calling window,
-- retries, targets, attempts: one set of rules for both kinds) with one row here that makes
-- it one: the notice runner leaves these campaigns alone, the operator-campaign runner takes
-- only these. `campaigns.audio` is the abandon message (who is calling, a callback number).
CREATE TABLE operator_campaigns (
    campaign_id  bigint      PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    mode         text        NOT NULL CHECK (mode IN ('preview', 'progressive', 'predictive')),
    -- the ACD queue whose operators (by its skill) work the campaign
    queue        text        NOT NULL,
    -- shown in the screen pop: the operator's call script
    script_url   text
);

-- One row per answered-or-not call of an operator campaign, keyed by the attempt's uuid
-- (attempts.uuid), written before the originate with the attempt.
CREATE TABLE operator_calls (
    uuid               uuid        PRIMARY KEY,
    campaign_id        bigint      NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id         bigint      NOT NULL,
    -- set when this call is an operator's scheduled callback
    callback_id        bigint,
    -- preview: the operator who asked for the call
    requested_by       text,
    answered_at        timestamptz,
    -- what answered: person, machine, announcement, fax, silence (with the announcement's kind)
    answered_by        text,
    detected_kind      text,
    -- a person reached an operator (bridged) ...
    connected_at       timestamptz,
    -- ... or got none within 2 s: abandoned, and the abandon message started at
    abandoned_at       timestamptz,
    message_started_at timestamptz,
    operator           text,
    talk_ended_at      timestamptz,
    disposition        text,
    disposed_at        timestamptz
);
CREATE INDEX operator_calls_campaign ON operator_calls (campaign_id, answered_at);
-- an operator's calls still waiting for their disposition
CREATE INDEX operator_calls_undisposed ON operator_calls (operator)
    WHERE connected_at IS NOT NULL AND disposition IS NULL;

-- Callbacks an operator scheduled with a disposition: dialed at due_at, to that operator (any
-- operator of the campaign's queue once they have been away for the grace time).
CREATE TABLE operator_callbacks (
    id           bigserial   PRIMARY KEY,
    campaign_id  bigint      NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id   bigint      NOT NULL,
    operator     text        NOT NULL,
    number       text        NOT NULL,
    due_at       timestamptz NOT NULL,
    state        text        NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'dialing', 'done', 'failed')),
    -- the call that scheduled it, and the one that carried it out
    from_call    uuid,
    call_uuid    uuid,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_callbacks_due ON operator_callbacks (due_at) WHERE state = 'pending';
