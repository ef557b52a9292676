-- Multi-agent groups. The manager's fields that no query filters on (turn limits, the
-- sleep-time counter and cursor, buffer lengths) are one JSON object.
CREATE TABLE groups (
    id               TEXT PRIMARY KEY,
    manager_type     TEXT NOT NULL,
    description      TEXT NOT NULL,
    project_id       TEXT,
    template_id      TEXT,
    base_template_id TEXT,
    deployment_id    TEXT,
    -- A group without its manager (a supervisor, the primary of a sleep-time group) is gone.
    manager_agent_id TEXT REFERENCES agents (id) ON DELETE CASCADE,
    config           TEXT NOT NULL DEFAULT '{}',
    hidden           INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX groups_by_created ON groups (created_at, id);
CREATE INDEX groups_by_manager ON groups (manager_agent_id) WHERE manager_agent_id IS NOT NULL;

-- Members in their turn order; a deleted agent leaves its groups.
CREATE TABLE group_agents (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (group_id, agent_id)
);
CREATE INDEX group_agents_by_agent ON group_agents (agent_id);

CREATE TABLE group_blocks (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    block_id TEXT NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (group_id, block_id)
);
