-- The version of an agent's in-context message ids: every write of `message_ids` bumps it,
-- and a step commit names the version it read, so that with several writers one's change to
-- the context is refused rather than silently overwritten by another's.
ALTER TABLE agents ADD COLUMN message_ids_version INTEGER NOT NULL DEFAULT 0;
