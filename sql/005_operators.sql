-- Operators (ACD agents), their groups and skills, and the log of their states: one row per
-- period a state lasted. KPIs and pay are computed from that log, so a period is closed and
-- the next opened in one transaction (`contactd operators state`, the ACD) and never edited.
CREATE TABLE operators (
    id          bigserial   PRIMARY KEY,
    login       text        NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9_.-]{1,64}$'),
    name        text        NOT NULL,
    -- a FreeSWITCH dial string (user/1001, sofia/gateway/gw/NNN, freetdm/1/a/NNN), fully
    -- validated by contactd; here only: a known technology and no blanks or control bytes
    endpoint    text        NOT NULL CHECK (endpoint ~ '^(user|sofia|freetdm)/[^[:space:][:cntrl:]]+$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Routing groups (general, meter, connection, contracts, specialists, supervisors, ...): data.
CREATE TABLE operator_groups (
    id    serial PRIMARY KEY,
    name  text   NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9_.-]{1,64}$')
);
INSERT INTO operator_groups (name)
VALUES ('general'), ('meter'), ('connection'), ('contracts'), ('specialists'), ('supervisors');

CREATE TABLE operator_skills (
    operator  bigint   NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    "group"   integer  NOT NULL REFERENCES operator_groups (id) ON DELETE CASCADE,
    level     smallint NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (operator, "group")
);
CREATE INDEX operator_skills_group ON operator_skills ("group");

-- One row per state period; `until` is NULL for the period the operator is in now.
CREATE TABLE operator_states (
    id        bigserial   PRIMARY KEY,
    operator  bigint      NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    state     text        NOT NULL CHECK (state IN ('logged_out', 'ready', 'offered', 'talking',
                                                    'wrap_up', 'break', 'absent', 'missed')),
    -- the break's reason (lunch, training, ...); empty for every other state
    reason    text        NOT NULL DEFAULT '',
    since     timestamptz NOT NULL,
    until     timestamptz,
    CONSTRAINT operator_states_period CHECK (until IS NULL OR until >= since),
    CONSTRAINT operator_states_reason CHECK (state = 'break' OR reason = '')
);
-- At most one open period per operator.
CREATE UNIQUE INDEX operator_states_open ON operator_states (operator) WHERE until IS NULL;
-- Time per state per operator per day: the periods that began during the day plus the one
-- that began last before it are both range scans of this index (periods never overlap).
CREATE INDEX operator_states_day ON operator_states (operator, since) INCLUDE (until, state, reason);
