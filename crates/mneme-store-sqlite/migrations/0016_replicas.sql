-- Several server processes (replicas) on one database: which replica executes a run, cancel
-- requests from the others, liveness and leases (times in microseconds since the epoch).
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_active_by_owner ON runs (owner) WHERE status IN ('created', 'running');

CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

CREATE TABLE leases (
    key        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX leases_by_holder ON leases (holder);
