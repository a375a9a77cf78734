-- Contact lists for notification campaigns, keyed by the number a manager keys on the phone,
-- and the global do-not-call list (checked by the dialer at the moment of dialling).
CREATE TABLE contact_lists (
    number       integer     PRIMARY KEY CHECK (number BETWEEN 1 AND 9999),
    name         text        NOT NULL,
    source_file  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- set when `lists import --replace` last replaced the contacts
    replaced_at  timestamptz,
    rows_read    integer     NOT NULL DEFAULT 0,
    accepted     integer     NOT NULL DEFAULT 0,
    rejected     integer     NOT NULL DEFAULT 0,
    duplicates   integer     NOT NULL DEFAULT 0
);

-- One dialable subscriber per row; `phone` is canonical E.164, never what the file said.
CREATE TABLE contacts (
    id           bigserial   PRIMARY KEY,
    list_number  integer     NOT NULL REFERENCES contact_lists (number) ON DELETE CASCADE,
    line_no      integer     NOT NULL,
    phone_raw    text        NOT NULL,
    phone        text        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    name         text        NOT NULL DEFAULT '',
    account      text        NOT NULL DEFAULT '',
    -- IANA zone the calling window is evaluated in
    tz           text        NOT NULL,
    extra        jsonb       NOT NULL DEFAULT '{}',
    UNIQUE (list_number, phone)
);
-- the dialer walks a list in file order
CREATE INDEX contacts_dial_order ON contacts (list_number, id);
-- DNC counts per list and lookups by number
CREATE INDEX contacts_phone ON contacts (phone);

-- Rows of an import that were not stored as contacts: refused (with the reason) or
-- duplicates of an earlier line (`duplicate_of`).
CREATE TABLE list_rejects (
    list_number  integer     NOT NULL REFERENCES contact_lists (number) ON DELETE CASCADE,
    line_no      integer     NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('rejected', 'duplicate')),
    raw          text        NOT NULL,
    reason       text        NOT NULL,
    duplicate_of integer,
    PRIMARY KEY (list_number, line_no)
);

-- Global do-not-call list.
CREATE TABLE dnc (
    phone        text        PRIMARY KEY CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    reason       text        NOT NULL DEFAULT '',
    added_at     timestamptz NOT NULL DEFAULT now(),
    -- `cli` for `dnc add`, `file:<name>` for `dnc import`
    source       text        NOT NULL
);
