-- The node that holds a delivery's lease: a restarted node takes its own leases back at
-- once instead of waiting for them to lapse (security.md's issue, item 3). No index: it is
-- read once per start, and an index would cost every claim and every insert.
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
