-- Operator campaigns, what must survive a restart of contactd or Redis losing its data.
--
-- Preview: the contact an operator was shown is held for them here until they press call
-- (the row is taken in the same step as the call's attempt is decided) — never lost, never
-- handed to a second operator, never dialed twice. Its target stays `dialing` meanwhile.
CREATE TABLE operator_previews (
    operator     text        PRIMARY KEY,
    campaign_id  bigint      NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id   bigint      NOT NULL,
    phone        text        NOT NULL,
    tz           text,
    attempts     integer     NOT NULL,
    shown_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, contact_id)
);

-- The disposition owed: an operator's last connected campaign call while it has none. Redis
-- (`acd:dispo_due`) is the fast copy; this is the truth it is rebuilt from.
CREATE INDEX operator_calls_last ON operator_calls (operator, connected_at DESC)
    WHERE connected_at IS NOT NULL;

-- Callbacks not answered, busy or failed are dialed again (`[campaigns.operator]
-- callback_retries`, `callback_retry_seconds`): how many of its calls did not connect, and how
-- the last one ended (shown with a callback marked failed).
ALTER TABLE operator_callbacks
    ADD COLUMN tries        integer NOT NULL DEFAULT 0,
    ADD COLUMN last_outcome text;
