-- Identities (Letta's users, organisations and other parties) and their links to agents and
-- blocks. A link goes with either end: deleting an agent, a block or an identity removes its
-- links, never what was at the other end.
CREATE TABLE identities (
    id             TEXT PRIMARY KEY,
    identifier_key TEXT NOT NULL,
    name           TEXT NOT NULL,
    identity_type  TEXT NOT NULL,
    project_id     TEXT,
    -- The properties as a JSON list of {key, value, type}, in their order.
    properties     TEXT NOT NULL DEFAULT '[]',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- One identity per key and project. A plain UNIQUE would let any number of identities without
-- a project share a key (NULLs are distinct), so no project (or an empty one) is one namespace.
CREATE UNIQUE INDEX identities_key ON identities (identifier_key, IFNULL(project_id, ''));
CREATE INDEX identities_created ON identities (created_at, id);

-- Rowid tables: listing by rowid gives an agent's identities in the order they were linked.
CREATE TABLE identities_agents (
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    agent_id    TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    PRIMARY KEY (identity_id, agent_id)
);
CREATE INDEX identities_agents_agent ON identities_agents (agent_id);

CREATE TABLE identities_blocks (
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    block_id    TEXT NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    PRIMARY KEY (identity_id, block_id)
);
CREATE INDEX identities_blocks_block ON identities_blocks (block_id);
