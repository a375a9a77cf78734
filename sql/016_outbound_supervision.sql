-- Operator-campaign calls in supervision (issue 13 × 14): a campaign call that a person
-- answered waits in the ACD like an inbound caller, so it gets an `acd_calls` row too —
-- marked `outbound` with its campaign — and operators' talk, handled calls, AHT and QA
-- include it. Queue KPIs (service level, ASA, abandons of waiting callers) stay inbound.
ALTER TABLE acd_calls
    ADD COLUMN direction   text   NOT NULL DEFAULT 'inbound'
                                  CHECK (direction IN ('inbound', 'outbound')),
    ADD COLUMN campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL;
-- the per-campaign outbound figures: a campaign's calls by time (few rows, partial index)
CREATE INDEX acd_calls_campaign ON acd_calls (campaign_id, entered_at)
    WHERE direction = 'outbound';

-- QA: "only outbound calls of one operator" (`[qa] outbound`).
ALTER TABLE qa_samples DROP CONSTRAINT qa_samples_reasons_check;
ALTER TABLE qa_samples ADD CONSTRAINT qa_samples_reasons_check CHECK (
    cardinality(reasons) BETWEEN 1 AND 6
    AND reasons <@ ARRAY['percent', 'per_operator', 'long', 'transferred',
                         'abandoned_wait', 'outbound']::text[]);

-- the campaigns' outbound KPIs count calls by when a person answered them
CREATE INDEX operator_calls_answered ON operator_calls (answered_at) WHERE answered_by = 'person';
