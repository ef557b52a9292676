-- Message batches: each a wire `BatchJob` as a JSON document, and the runs of its requests in
-- request order. A run deleted on its own leaves its batch.
CREATE TABLE batches (
    id         TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    document   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX batches_by_created ON batches (created_at, id);
CREATE INDEX batches_by_status ON batches (status);

CREATE TABLE batch_runs (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    PRIMARY KEY (batch_id, position)
);
CREATE INDEX batch_runs_by_run ON batch_runs (run_id);
