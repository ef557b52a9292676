-- A group's messages are listed and reset by `group_id`, across its agents.
CREATE INDEX messages_by_group ON messages (group_id, seq) WHERE group_id IS NOT NULL;
