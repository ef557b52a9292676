-- How many times the stored content of one of the agent's messages changed outside a step
-- commit (message edits, system message recompiles): a cache of the in-context messages
-- compares it, with message_ids_version, to know it is stale.
ALTER TABLE agents ADD COLUMN messages_edited INTEGER NOT NULL DEFAULT 0;
