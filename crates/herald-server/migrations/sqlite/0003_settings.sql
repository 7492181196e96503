-- Store-wide records: the data key's check value, and (PostgreSQL without encryption_key)
-- the data key itself (security.md, "Secrets at rest").
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
