-- Every secret a rotation replaces stays valid for its own grace period (security.md): the
-- one previous secret becomes a list of {secret, until}.
ALTER TABLE endpoints ADD COLUMN previous_secrets TEXT NOT NULL DEFAULT '[]';
UPDATE endpoints
   SET previous_secrets = json_array(json_object('secret', prev_secret, 'until', prev_secret_until))
 WHERE prev_secret IS NOT NULL AND prev_secret_until IS NOT NULL;
ALTER TABLE endpoints DROP COLUMN prev_secret;
ALTER TABLE endpoints DROP COLUMN prev_secret_until;
