-- Which replica processes a file: the one that created it or last restarted it, whose data
-- directory has the uploaded bytes. Only it resumes the file; once it is dead the others fail
-- the file instead of taking it over. Set by the store from its replica id.
ALTER TABLE files ADD COLUMN owner TEXT;
CREATE INDEX files_unfinished_by_owner ON files (owner)
    WHERE processing_status IN ('pending', 'parsing', 'embedding');
