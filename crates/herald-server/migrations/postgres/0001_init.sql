-- Herald's PostgreSQL schema: the same tables as the SQLite one. `seq` is a BIGSERIAL
-- (creation order, cursors, the order of deliveries to `ordered` endpoints); times are
-- BIGINT milliseconds since the Unix epoch.

CREATE TABLE api_keys (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL,            -- admin | producer | portal
    app_id      TEXT,                     -- app-scoped when set
    key_hash    TEXT NOT NULL UNIQUE,     -- sha256 hex of the secret; the secret is never stored
    read_only   BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at  BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE apps (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    uid         TEXT UNIQUE,
    name        TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE event_types (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    schema      TEXT,
    archived    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE endpoints (
    seq               BIGSERIAL PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    app_id            TEXT NOT NULL,
    url               TEXT NOT NULL,
    description       TEXT,
    event_types       TEXT,               -- JSON array or NULL (= every type)
    status            TEXT NOT NULL,      -- active | disabled | auto_disabled
    disabled_reason   TEXT,
    rate_limit        BIGINT,
    max_in_flight     BIGINT NOT NULL,
    headers           TEXT NOT NULL DEFAULT '{}',
    format            TEXT NOT NULL,
    ordered           BOOLEAN NOT NULL DEFAULT FALSE,
    metadata          TEXT NOT NULL DEFAULT '{}',
    signature_scheme  TEXT NOT NULL,
    secret            TEXT NOT NULL,      -- whsec_ (v1) or whsk_ (v1a)
    prev_secret       TEXT,
    prev_secret_until BIGINT,
    first_failure_at  BIGINT,            -- start of the current run of failures
    next_due_at       BIGINT,            -- earliest due time of an unleased pending delivery
                                          -- (for ordered endpoints: of the head, if unleased)
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX endpoints_app ON endpoints (app_id, seq);
-- Claiming starts from the endpoints that have due work, so a huge backlog on one endpoint
-- costs nothing to the others.
CREATE INDEX endpoints_due ON endpoints (next_due_at) WHERE next_due_at IS NOT NULL;

CREATE TABLE events (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    app_id      TEXT NOT NULL,
    type        TEXT NOT NULL,
    payload     BYTEA NOT NULL,            -- the bytes as received
    source      TEXT,
    subject     TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);
CREATE INDEX events_app ON events (app_id, seq);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE deliveries (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    app_id           TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    status           TEXT NOT NULL,       -- pending | succeeded | failed | cancelled
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    lease_until      BIGINT,
    last_attempt_at  BIGINT,
    last_status_code BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX deliveries_pending_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, seq);
CREATE INDEX deliveries_pending_endpoint ON deliveries (endpoint_id, seq) WHERE status = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_app ON deliveries (app_id, seq);

CREATE TABLE attempts (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    delivery_id   TEXT NOT NULL,
    number        BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    status_code   BIGINT,
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
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);

-- Expired leases of crashed nodes are found here.
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE lease_until IS NOT NULL;

-- Live nodes (heartbeats), for cluster-wide limits.
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL
);
