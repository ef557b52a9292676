-- Folders (Letta's sources), their files, their attachments to agents, and the jobs that
-- report a file's processing. A folder's passages live in an archive of its own, so the
-- passage table, its outbox triggers and the search index serve folders unchanged.
CREATE TABLE folders (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT,
    instructions     TEXT,
    metadata         TEXT,
    embedding_config TEXT NOT NULL,
    archive_id       TEXT NOT NULL REFERENCES archives (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX folders_by_created ON folders (created_at, id);

-- `content` is the extracted text, kept apart from the listing columns' concerns but in the
-- same row: files are listed without it unless asked.
CREATE TABLE files (
    id                      TEXT PRIMARY KEY,
    folder_id               TEXT NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    file_name               TEXT NOT NULL,
    original_file_name      TEXT,
    file_path               TEXT,
    file_type               TEXT,
    file_size               INTEGER,
    file_creation_date      TEXT,
    file_last_modified_date TEXT,
    processing_status       TEXT NOT NULL,
    error_message           TEXT,
    total_chunks            INTEGER,
    chunks_embedded         INTEGER,
    content                 TEXT,
    job_id                  TEXT,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    UNIQUE (folder_id, file_name)
);
CREATE INDEX files_by_folder ON files (folder_id, created_at, id);
CREATE INDEX files_unfinished ON files (processing_status)
    WHERE processing_status IN ('pending', 'parsing', 'embedding');

CREATE TABLE agent_folders (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id  TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    folder_id TEXT NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    UNIQUE (agent_id, folder_id)
);
CREATE INDEX agent_folders_by_folder ON agent_folders (folder_id);

-- The wire `Job` as one JSON document; `folder_id` and `status` are the columns listings
-- filter on. A job outlives its file (it is history) but not its folder.
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    folder_id  TEXT REFERENCES folders (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    document   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX jobs_by_created ON jobs (created_at, id);
