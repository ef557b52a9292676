-- Archives, embedded passages and the search outbox.
--
-- Archival memory moves from per-agent passages to archives (Letta 0.16): an agent reads every
-- archive attached to it and writes to its default one, created on first use. Passages keep
-- their embedding (little-endian f32) next to the text; the database stays the source of truth
-- and the search indices are derived from it through `search_outbox`.

CREATE TABLE archives (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    description      TEXT,
    embedding_config TEXT,
    metadata         TEXT,
    -- The agent an archive was created for as its default; deleted with that agent unless
    -- another agent still uses it.
    owner_agent_id   TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX archives_by_name ON archives (name);

CREATE TABLE agent_archives (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    archive_id TEXT NOT NULL REFERENCES archives (id) ON DELETE CASCADE,
    UNIQUE (agent_id, archive_id)
);
CREATE INDEX agent_archives_by_archive ON agent_archives (archive_id);

-- One default archive per agent that already has passages.
INSERT INTO archives (id, name, embedding_config, owner_agent_id, created_at, updated_at)
SELECT 'archive-' || lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
           || substr(lower(hex(randomblob(2))), 2) || '-'
           || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)
           || '-' || lower(hex(randomblob(6))),
       a.name || '''s archive', a.embedding_config, a.id, a.created_at, a.created_at
FROM agents a
WHERE EXISTS (SELECT 1 FROM passages p WHERE p.agent_id = a.id);

INSERT INTO agent_archives (agent_id, archive_id)
SELECT owner_agent_id, id FROM archives ORDER BY seq;

CREATE TABLE passages_v2 (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    archive_id       TEXT NOT NULL REFERENCES archives (id) ON DELETE CASCADE,
    text             TEXT NOT NULL,
    tags             TEXT NOT NULL DEFAULT '[]',
    metadata         TEXT,
    embedding        BLOB,
    embedding_config TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

INSERT INTO passages_v2 (seq, id, archive_id, text, tags, metadata, created_at, updated_at)
SELECT p.seq, p.id, ar.id, p.text, p.tags, p.metadata, p.created_at, p.updated_at
FROM passages p JOIN archives ar ON ar.owner_agent_id = p.agent_id
ORDER BY p.seq;

DROP TABLE passages;
ALTER TABLE passages_v2 RENAME TO passages;
CREATE INDEX passages_by_archive ON passages (archive_id, created_at, seq);

-- Recall vectors, computed off the request path for agents with an embedding model.
CREATE TABLE message_embeddings (
    message_seq INTEGER PRIMARY KEY REFERENCES messages (seq) ON DELETE CASCADE,
    agent_id    TEXT NOT NULL,
    embedding   BLOB NOT NULL
);
CREATE INDEX message_embeddings_by_agent ON message_embeddings (agent_id);

-- Every change to a searchable row, written in the row's own transaction by the triggers
-- below, so that an index can never miss one: each process applies the rows after its
-- index's watermark (stored with the index) and the applied ones are pruned.
CREATE TABLE search_outbox (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind  TEXT NOT NULL,    -- 'passage' (key = passages.seq) | 'message' (key = messages.seq)
    key   INTEGER NOT NULL,
    owner TEXT NOT NULL,    -- archive id | agent id
    op    TEXT NOT NULL     -- 'upsert' | 'remove'
);

-- Small named counters (the recall embedding cursor).
CREATE TABLE search_state (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TRIGGER passages_outbox_insert AFTER INSERT ON passages BEGIN
    INSERT INTO search_outbox (kind, key, owner, op) VALUES ('passage', NEW.seq, NEW.archive_id, 'upsert');
END;
CREATE TRIGGER passages_outbox_update AFTER UPDATE OF text, embedding ON passages BEGIN
    INSERT INTO search_outbox (kind, key, owner, op) VALUES ('passage', NEW.seq, NEW.archive_id, 'upsert');
END;
CREATE TRIGGER passages_outbox_delete AFTER DELETE ON passages BEGIN
    INSERT INTO search_outbox (kind, key, owner, op) VALUES ('passage', OLD.seq, OLD.archive_id, 'remove');
END;
CREATE TRIGGER messages_outbox_insert AFTER INSERT ON messages WHEN NEW.role <> 'system' BEGIN
    INSERT INTO search_outbox (kind, key, owner, op) VALUES ('message', NEW.seq, NEW.agent_id, 'upsert');
END;
CREATE TRIGGER messages_outbox_update AFTER UPDATE OF text, tool_calls ON messages WHEN NEW.role <> 'system' BEGIN
    INSERT INTO search_outbox (kind, key, owner, op) VALUES ('message', NEW.seq, NEW.agent_id, 'upsert');
END;
CREATE TRIGGER messages_outbox_delete AFTER DELETE ON messages WHEN OLD.role <> 'system' BEGIN
    INSERT INTO search_outbox (kind, key, owner, op) VALUES ('message', OLD.seq, OLD.agent_id, 'remove');
END;
CREATE TRIGGER message_embeddings_outbox AFTER INSERT ON message_embeddings BEGIN
    INSERT INTO search_outbox (kind, key, owner, op) VALUES ('message', NEW.message_seq, NEW.agent_id, 'upsert');
END;

-- Everything already stored is indexed on first start.
INSERT INTO search_outbox (kind, key, owner, op)
SELECT 'passage', seq, archive_id, 'upsert' FROM passages ORDER BY seq;
INSERT INTO search_outbox (kind, key, owner, op)
SELECT 'message', seq, agent_id, 'upsert' FROM messages WHERE role <> 'system' ORDER BY seq;
