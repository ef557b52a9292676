-- The files of an agent's folders as the agent holds them (Letta's files_agents): open with a
-- view of some lines, or closed. A row goes with its agent, its file or its folder; detaching
-- a folder deletes its rows (the store does, in the same transaction).
CREATE TABLE agent_files (
    id               TEXT PRIMARY KEY,
    agent_id         TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    file_id          TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    folder_id        TEXT NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    is_open          INTEGER NOT NULL,
    visible_content  TEXT,
    start_line       INTEGER,
    end_line         INTEGER,
    last_accessed_at INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    UNIQUE (agent_id, file_id)
);
CREATE INDEX agent_files_by_file ON agent_files (file_id);
CREATE INDEX agent_files_by_folder ON agent_files (folder_id);
