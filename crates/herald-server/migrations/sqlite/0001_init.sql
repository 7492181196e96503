-- Herald's SQLite schema. Every table has a rowid alias `seq` (creation order, used for
-- cursors and for the order of deliveries to `ordered` endpoints) and a public prefixed `id`.
-- Times are integer milliseconds since the Unix epoch.

CREATE TABLE api_keys (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL,            -- admin | producer | portal
    app_id      TEXT,                     -- app-scoped when set
    key_hash    TEXT NOT NULL UNIQUE,     -- sha256 hex of the secret; the secret is never stored
    read_only   INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER,
    created_at  INTEGER NOT NULL
);

CREATE TABLE apps (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    uid         TEXT UNIQUE,
    name        TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE event_types (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    schema      TEXT,
    archived    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE endpoints (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    app_id            TEXT NOT NULL,
    url               TEXT NOT NULL,
    description       TEXT,
    event_types       TEXT,               -- JSON array or NULL (= every type)
    status            TEXT NOT NULL,      -- active | disabled | auto_disabled
    disabled_reason   TEXT,
    rate_limit        INTEGER,
    max_in_flight     INTEGER NOT NULL,
    headers           TEXT NOT NULL DEFAULT '{}',
    format            TEXT NOT NULL,
    ordered           INTEGER NOT NULL DEFAULT 0,
    metadata          TEXT NOT NULL DEFAULT '{}',
    signature_scheme  TEXT NOT NULL,
    secret            TEXT NOT NULL,      -- whsec_ (v1) or whsk_ (v1a)
    prev_secret       TEXT,
    prev_secret_until INTEGER,
    first_failure_at  INTEGER,            -- start of the current run of failures
    next_due_at       INTEGER,            -- earliest due time of an unleased pending delivery
                                          -- (for ordered endpoints: of the head, if unleased)
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX endpoints_app ON endpoints (app_id, seq);
-- Claiming starts from the endpoints that have due work, so a huge backlog on one endpoint
-- costs nothing to the others.
CREATE INDEX endpoints_due ON endpoints (next_due_at) WHERE next_due_at IS NOT NULL;

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    app_id      TEXT NOT NULL,
    type        TEXT NOT NULL,
    payload     BLOB NOT NULL,            -- the bytes as received
    source      TEXT,
    subject     TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE INDEX events_app ON events (app_id, seq);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE deliveries (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    app_id           TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    status           TEXT NOT NULL,       -- pending | succeeded | failed | cancelled
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    last_attempt_at  INTEGER,
    last_status_code INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX deliveries_pending_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, seq);
CREATE INDEX deliveries_pending_endpoint ON deliveries (endpoint_id, seq) WHERE status = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_app ON deliveries (app_id, seq);
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE lease_until IS NOT NULL;

CREATE TABLE attempts (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    delivery_id   TEXT NOT NULL,
    number        INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    status_code   INTEGER,
    response_body TEXT,
    error_kind    TEXT,
    error_message TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, seq);

CREATE TABLE idempotency (
    app_id       TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response     TEXT NOT NULL,           -- the original response body (JSON)
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
