-- Foundation schema: agents, tags, blocks shared between agents, messages.
-- Timestamps are microseconds since the Unix epoch (UTC); JSON documents are TEXT.

CREATE TABLE agents (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    agent_type           TEXT NOT NULL,
    system               TEXT NOT NULL,
    description          TEXT,
    metadata             TEXT,
    llm_config           TEXT NOT NULL,
    embedding_config     TEXT,
    tool_rules           TEXT,
    message_ids          TEXT NOT NULL DEFAULT '[]',
    settings             TEXT NOT NULL DEFAULT '{}',
    project_id           TEXT,
    template_id          TEXT,
    base_template_id     TEXT,
    last_run_completion  INTEGER,
    last_run_duration_ms INTEGER,
    last_stop_reason     TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX agents_by_created ON agents (created_at, id);
CREATE INDEX agents_by_name ON agents (name);

-- Insertion order (rowid) is the order tags are returned in.
CREATE TABLE agent_tags (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tag      TEXT NOT NULL,
    UNIQUE (agent_id, tag)
);
CREATE INDEX agent_tags_by_tag ON agent_tags (tag, agent_id);

CREATE TABLE blocks (
    id                    TEXT PRIMARY KEY,
    label                 TEXT,
    value                 TEXT NOT NULL,
    value_limit           INTEGER NOT NULL,
    description           TEXT,
    read_only             INTEGER NOT NULL DEFAULT 0,
    metadata              TEXT,
    tags                  TEXT,
    hidden                INTEGER,
    is_template           INTEGER NOT NULL DEFAULT 0,
    template_name         TEXT,
    template_id           TEXT,
    base_template_id      TEXT,
    deployment_id         TEXT,
    entity_id             TEXT,
    project_id            TEXT,
    preserve_on_migration INTEGER,
    created_by_id         TEXT,
    last_updated_by_id    TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX blocks_by_created ON blocks (created_at, id);
CREATE INDEX blocks_by_label ON blocks (label);

-- One row per attachment: a shared block is one `blocks` row seen by every attached agent.
-- `label` mirrors blocks.label so that an agent can never hold two blocks with one label.
CREATE TABLE agent_blocks (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    block_id TEXT NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    label    TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (agent_id, block_id),
    UNIQUE (agent_id, label)
);
CREATE INDEX agent_blocks_by_block ON agent_blocks (block_id);

-- `seq` is the monotonic per-database sequence that message cursors compare. `text` is the
-- searchable text of the message; the structured parts are JSON documents beside it.
CREATE TABLE messages (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    agent_id     TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    text         TEXT NOT NULL,
    content      TEXT,
    reasoning    TEXT,
    tool_calls   TEXT,
    tool_call_id TEXT,
    tool_returns TEXT,
    name         TEXT,
    otid         TEXT,
    sender_id    TEXT,
    group_id     TEXT,
    step_id      TEXT,
    run_id       TEXT,
    is_err       INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX messages_by_agent ON messages (agent_id, seq);
CREATE INDEX messages_by_run ON messages (run_id, seq) WHERE run_id IS NOT NULL;

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    stop_reason  TEXT,
    background   INTEGER NOT NULL DEFAULT 0,
    data         TEXT NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX runs_by_agent ON runs (agent_id, created_at, id);
CREATE INDEX runs_by_created ON runs (created_at, id);

CREATE TABLE steps (
    id         TEXT PRIMARY KEY,
    run_id     TEXT REFERENCES runs (id) ON DELETE CASCADE,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX steps_by_run ON steps (run_id, created_at, id);

CREATE TABLE tools (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    tool_type  TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE agent_tools (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tool_id  TEXT NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (agent_id, tool_id)
);
CREATE INDEX agent_tools_by_tool ON agent_tools (tool_id);

-- Archival memory. Embeddings arrive with the search issue; until then search is by text.
CREATE TABLE passages (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    text       TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',
    metadata   TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX passages_by_agent ON passages (agent_id, created_at);

-- The SSE chunks of background runs, so that a stream can be resumed (from any replica) by
-- `seq` after a disconnect, and replayed after the run ended.
CREATE TABLE run_chunks (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    event      TEXT,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
