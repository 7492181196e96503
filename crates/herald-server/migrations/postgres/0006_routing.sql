-- Payload filters and transformations (routing.md): a CEL expression and
-- {"code", "enabled"} as JSON text, both null when absent.
ALTER TABLE endpoints ADD COLUMN filter TEXT, ADD COLUMN transformation TEXT;
