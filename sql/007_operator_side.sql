-- The operator's side is named when it ends an ACD call, and an operator's phone may be any
-- endpoint a trunk dials (loopback/ too).

-- Who ended the call: 'party' (the caller or subscriber), 'operator' (the operator's side of an
-- ACD call: their phone hung up the talk), 'contactd' (its flow or the ACD ended it: a prompt
-- then hang-up), 'switch' (shutdown), 'unknown' (ended while contactd could not see it).
ALTER TABLE calls DROP CONSTRAINT calls_hungup_by_check;
ALTER TABLE calls ADD CONSTRAINT calls_hungup_by_check
    CHECK (hungup_by IN ('party', 'operator', 'contactd', 'switch', 'unknown'));
COMMENT ON COLUMN calls.hungup_by IS
    'who ended the call: party (caller/subscriber), operator (an ACD call''s operator side), '
    'contactd, switch (shutdown), unknown (ended unseen)';

-- A FreeSWITCH dial string, fully validated by contactd (core::dialstring: the grammar of the
-- trunks' dial templates); here only a known technology and no blanks or control bytes.
ALTER TABLE operators DROP CONSTRAINT operators_endpoint_check;
ALTER TABLE operators ADD CONSTRAINT operators_endpoint_check
    CHECK (endpoint ~ '^(user|sofia|freetdm|loopback)/[^[:space:][:cntrl:]]+$');
