-- QA sampling (`core::qa`): the ACD calls a supervisor must listen to, and their scores.
-- A call is sampled once and stays sampled: selection only inserts (ON CONFLICT DO NOTHING)
-- and nothing updates or deletes a sample. Reviews are kept; the newest of a call counts.
CREATE TABLE qa_samples (
    call_uuid   uuid        PRIMARY KEY REFERENCES acd_calls (call_uuid) ON DELETE CASCADE,
    -- the local day (`[mail] report_time_zone`) the call was selected for
    day         date        NOT NULL,
    queue       text        NOT NULL,
    -- the operator who answered it when it was selected (NULL: never answered)
    operator    bigint      REFERENCES operators (id) ON DELETE SET NULL,
    -- every rule that picked it at selection, by `core::qa::Reason` name
    reasons     text[]      NOT NULL CHECK (
                    cardinality(reasons) BETWEEN 1 AND 5
                    AND reasons <@ ARRAY['percent', 'per_operator', 'long', 'transferred',
                                         'abandoned_wait']::text[]),
    -- the file `record_session` wrote (NULL for a call never answered)
    recording   text,
    selected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX qa_samples_day ON qa_samples (day, queue);
CREATE INDEX qa_samples_operator ON qa_samples (operator, day);

CREATE TABLE qa_reviews (
    id          bigserial   PRIMARY KEY,
    call_uuid   uuid        NOT NULL REFERENCES qa_samples (call_uuid) ON DELETE CASCADE,
    reviewer    text        NOT NULL CHECK (char_length(reviewer) BETWEEN 1 AND 64
                                            AND reviewer !~ '[[:cntrl:]]'),
    score       smallint    NOT NULL CHECK (score BETWEEN 0 AND 100),
    -- line breaks and tabs allowed, no other control character
    comment     text        NOT NULL DEFAULT '' CHECK (char_length(comment) <= 2000
                                AND translate(comment, E'\n\t', '') !~ '[[:cntrl:]]'),
    reviewed_at timestamptz NOT NULL
);
CREATE INDEX qa_reviews_call ON qa_reviews (call_uuid, reviewed_at DESC, id DESC);
