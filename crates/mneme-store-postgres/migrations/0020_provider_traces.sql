-- Telemetry: the provider request and response of a step's model call, the bodies as
-- exchanged (JSON bytes), kept until pruned by age. One trace per step; it goes with its step.
CREATE TABLE provider_traces (
    step_id TEXT COLLATE "C" PRIMARY KEY REFERENCES steps (id) ON DELETE CASCADE,
    run_id TEXT COLLATE "C" NOT NULL,
    agent_id TEXT COLLATE "C" NOT NULL,
    request BYTEA NOT NULL,
    response BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX provider_traces_by_age ON provider_traces (created_at);
