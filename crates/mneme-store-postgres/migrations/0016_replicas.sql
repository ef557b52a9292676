-- Several server processes (replicas) on one database: which replica executes a run, cancel
-- requests from the others, liveness and leases (times in microseconds since the epoch).
-- A run's owner defaults to the replica id its connection was opened with (`mneme.replica`,
-- set by `PgStore::connect`), so that every insert of a run records it.
ALTER TABLE runs ADD COLUMN owner TEXT COLLATE "C"
    DEFAULT NULLIF(current_setting('mneme.replica', true), '');
ALTER TABLE runs ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_active_by_owner ON runs (owner) WHERE status IN ('created', 'running');

CREATE TABLE replicas (
    id           TEXT COLLATE "C" PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

CREATE TABLE leases (
    key        TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX leases_by_holder ON leases (holder);
