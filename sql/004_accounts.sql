-- Accounts and meters (from billing's export, `contactd accounts import`) and the meter
-- readings callers pass by phone, web or messenger (`contactd readings export` hands them
-- back to billing).
CREATE TABLE accounts (
    number         text        PRIMARY KEY CHECK (number ~ '^[0-9]{1,20}$'),
    holder         text        NOT NULL DEFAULT '',
    -- canonical E.164 of the holder's phone: a caller from it is offered the account
    phone          text        CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    -- minor units (kopecks); negative is a debt
    balance_minor  bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_phone ON accounts (phone);

CREATE TABLE meters (
    id        bigserial PRIMARY KEY,
    account   text      NOT NULL REFERENCES accounts (number) ON DELETE CASCADE,
    serial    text      NOT NULL,
    zones     smallint  NOT NULL CHECK (zones BETWEEN 1 AND 3),
    digits    smallint  NOT NULL CHECK (digits BETWEEN 3 AND 9),
    UNIQUE (account, serial)
);

-- The last reading billing ACCEPTED per zone: what new readings are checked against.
CREATE TABLE meter_zones (
    meter      bigint   NOT NULL REFERENCES meters (id) ON DELETE CASCADE,
    zone       smallint NOT NULL CHECK (zone BETWEEN 1 AND 3),
    last_value bigint   NOT NULL CHECK (last_value >= 0),
    last_date  date     NOT NULL,
    PRIMARY KEY (meter, zone)
);

-- Every submission is kept: a second one the same day marks the first `replaced`.
CREATE TABLE meter_readings (
    id            bigserial   PRIMARY KEY,
    meter         bigint      NOT NULL REFERENCES meters (id) ON DELETE CASCADE,
    zone          smallint    NOT NULL CHECK (zone BETWEEN 1 AND 3),
    value         bigint      NOT NULL CHECK (value >= 0),
    consumption   bigint      NOT NULL CHECK (consumption >= 0),
    rolled_over   boolean     NOT NULL DEFAULT false,
    -- the caller's local date: "the same day" for replacement
    reading_date  date        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'replaced')),
    source        text        NOT NULL CHECK (source IN ('ivr', 'web', 'messenger')),
    call_uuid     uuid,
    caller        text,
    submitted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX meter_readings_one_pending
    ON meter_readings (meter, zone, reading_date) WHERE status = 'pending';
CREATE INDEX meter_readings_export ON meter_readings (submitted_at) WHERE status = 'pending';
