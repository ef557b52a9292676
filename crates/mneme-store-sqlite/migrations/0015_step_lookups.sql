-- Lookups of `GET /v1/steps/` and `GET /v1/steps/{id}/messages`: an agent's steps by time,
-- and the messages one step wrote.
CREATE INDEX steps_by_agent ON steps (agent_id, created_at, id);
CREATE INDEX messages_by_step ON messages (step_id, seq) WHERE step_id IS NOT NULL;
