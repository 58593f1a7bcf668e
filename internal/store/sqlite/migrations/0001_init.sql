-- Custos schema, SQLite dialect. Times are INTEGER unix microseconds UTC;
-- lists and maps are JSON text. 0 in team_id / assignee_id means "none".

CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    external_uid TEXT    NOT NULL DEFAULT '',
    name         TEXT    NOT NULL DEFAULT '',
    emails       TEXT    NOT NULL DEFAULT '[]',
    phone        TEXT    NOT NULL DEFAULT '',
    telegram_id  TEXT    NOT NULL DEFAULT '',
    language     TEXT    NOT NULL DEFAULT '',
    vip_tier     INTEGER NOT NULL DEFAULT 0,
    kyc_level    INTEGER NOT NULL DEFAULT 0,
    tags         TEXT    NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- Anonymous visitors have no external uid, so only non-empty ones are unique.
CREATE UNIQUE INDEX contacts_external_uid ON contacts (external_uid) WHERE external_uid <> '';

CREATE TABLE teams (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    business_hours TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL
);

-- Secrets live in the same row but are read only by GetAgentSecrets.
CREATE TABLE agents (
    id            INTEGER PRIMARY KEY,
    login         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL,
    team_ids      TEXT    NOT NULL DEFAULT '[]',
    languages     TEXT    NOT NULL DEFAULT '[]',
    skills        TEXT    NOT NULL DEFAULT '[]',
    chat_limit    INTEGER NOT NULL DEFAULT 0,
    presence      TEXT    NOT NULL DEFAULT 'offline',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    password_hash TEXT    NOT NULL DEFAULT '',
    totp_secret   TEXT    NOT NULL DEFAULT '',
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER
);

CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    agent_id     INTEGER NOT NULL REFERENCES agents (id),
    csrf         TEXT    NOT NULL,
    mfa_pending  INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ip           TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_agent ON sessions (agent_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL DEFAULT '[]',
    created_by   INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE tickets (
    id                       INTEGER PRIMARY KEY,
    ref                      TEXT    NOT NULL UNIQUE,
    channel                  TEXT    NOT NULL,
    subject                  TEXT    NOT NULL DEFAULT '',
    status                   TEXT    NOT NULL,
    priority                 TEXT    NOT NULL,
    category                 TEXT    NOT NULL DEFAULT '',
    team_id                  INTEGER NOT NULL DEFAULT 0,
    assignee_id              INTEGER NOT NULL DEFAULT 0,
    contact_id               INTEGER NOT NULL DEFAULT 0,
    tier                     INTEGER NOT NULL DEFAULT 0,
    tags                     TEXT    NOT NULL DEFAULT '[]',
    custom                   TEXT    NOT NULL DEFAULT '{}',
    language                 TEXT    NOT NULL DEFAULT '',
    last_seq                 INTEGER NOT NULL DEFAULT 0,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    first_response_at        INTEGER,
    last_customer_message_at INTEGER,
    solved_at                INTEGER
);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_team ON tickets (team_id, id);
CREATE INDEX tickets_assignee ON tickets (assignee_id, id);
CREATE INDEX tickets_contact ON tickets (contact_id, id);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    seq         INTEGER NOT NULL,
    author_kind TEXT    NOT NULL,
    author_id   INTEGER NOT NULL DEFAULT 0,
    author_name TEXT    NOT NULL DEFAULT '',
    internal    INTEGER NOT NULL DEFAULT 0,
    text        TEXT    NOT NULL DEFAULT '',
    html        TEXT    NOT NULL DEFAULT '',
    attachments TEXT    NOT NULL DEFAULT '[]',
    client_id   TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    UNIQUE (ticket_id, seq)
);
-- A resent chat message (same client id) must never be stored twice.
CREATE UNIQUE INDEX messages_client_id ON messages (ticket_id, client_id) WHERE client_id <> '';

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    actor_kind TEXT    NOT NULL,
    actor_id   INTEGER NOT NULL DEFAULT 0,
    field      TEXT    NOT NULL,
    old        TEXT    NOT NULL DEFAULT '',
    new        TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX events_ticket ON events (ticket_id, id);

CREATE TABLE attachments (
    id            TEXT    PRIMARY KEY,
    ticket_id     INTEGER NOT NULL DEFAULT 0,
    name          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT    NOT NULL,
    uploader_kind TEXT    NOT NULL,
    uploader_id   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE idempotency (
    key        TEXT    PRIMARY KEY,
    status     INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- The audit chain. audit_head is one row; updating it takes the write lock
-- that serialises appends, so IDs are gapless and each PrevHash is right.
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor_kind TEXT    NOT NULL,
    actor_id   INTEGER NOT NULL DEFAULT 0,
    actor_name TEXT    NOT NULL DEFAULT '',
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT '',
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE TABLE audit_head (
    one       INTEGER PRIMARY KEY CHECK (one = 1),
    last_id   INTEGER NOT NULL,
    last_hash TEXT    NOT NULL
);
INSERT INTO audit_head (one, last_id, last_hash) VALUES (1, 0, '');

CREATE TABLE devices (
    hash       TEXT    PRIMARY KEY,
    contact_id INTEGER NOT NULL
);
