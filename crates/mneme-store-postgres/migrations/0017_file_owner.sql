-- Which replica processes a file: the one that created it or last restarted it, whose data
-- directory has the uploaded bytes. Only it resumes the file; once it is dead the others fail
-- the file instead of taking it over. Filled like `runs.owner`, from the connection's
-- `mneme.replica` on insert, and set explicitly by a restart.
ALTER TABLE files ADD COLUMN owner TEXT COLLATE "C"
    DEFAULT NULLIF(current_setting('mneme.replica', true), '');
CREATE INDEX files_unfinished_by_owner ON files (owner)
    WHERE processing_status IN ('pending', 'parsing', 'embedding');
