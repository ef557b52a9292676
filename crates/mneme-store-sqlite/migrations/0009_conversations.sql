-- Conversations: threads of one agent with their own in-context messages, sharing its memory.
-- The agent row keeps the default conversation's context; each conversation keeps its own here,
-- with the same version rule (bumped by every write of `message_ids`).
CREATE TABLE conversations (
    id                  TEXT PRIMARY KEY,
    agent_id            TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    summary             TEXT,
    model               TEXT,
    model_settings      TEXT,
    message_ids         TEXT NOT NULL DEFAULT '[]',
    message_ids_version INTEGER NOT NULL DEFAULT 0,
    last_message_at     INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX conversations_by_agent ON conversations (agent_id, created_at, id);
CREATE INDEX conversations_by_created ON conversations (created_at, id);

-- A conversation's copies of the agent's blocks (`isolated_block_labels`): they stand in for
-- the agent's block of the same label in that conversation only.
CREATE TABLE conversation_blocks (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    block_id        TEXT NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    label           TEXT NOT NULL,
    PRIMARY KEY (conversation_id, block_id),
    UNIQUE (conversation_id, label)
);

-- Messages written in a conversation name it; the default conversation's have none.
ALTER TABLE messages ADD COLUMN conversation_id TEXT;
CREATE INDEX messages_by_conversation ON messages (conversation_id, seq)
    WHERE conversation_id IS NOT NULL;

-- Messages a fork took over from its source: listed in the fork's history too, not copied.
CREATE TABLE conversation_messages (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, message_id)
);
CREATE INDEX conversation_messages_by_message ON conversation_messages (message_id);

ALTER TABLE runs ADD COLUMN conversation_id TEXT;
CREATE INDEX runs_by_conversation ON runs (conversation_id, created_at, id)
    WHERE conversation_id IS NOT NULL;

-- The `otid`s of a run's input messages, and the token of all of them, so that a retried
-- request finds the run it started (Letta keeps these in Redis).
CREATE TABLE run_otids (
    otid       TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX run_otids_by_run ON run_otids (run_id);
