-- Telemetry: the provider request and response of a step's model call, the bodies as
-- exchanged (JSON bytes), kept until pruned by age. One trace per step; it goes with its step.
CREATE TABLE provider_traces (
    step_id TEXT PRIMARY KEY REFERENCES steps (id) ON DELETE CASCADE,
    run_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    request BLOB NOT NULL,
    response BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX provider_traces_by_age ON provider_traces (created_at);
