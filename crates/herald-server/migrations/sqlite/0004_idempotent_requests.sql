-- Idempotency records of POSTs other than events (security.md): the first answer of a
-- request, by the credential (scope) and its Idempotency-Key.
CREATE TABLE idempotent_requests (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,   -- 0 while the first request runs
    response     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotent_requests_created ON idempotent_requests (created_at);
