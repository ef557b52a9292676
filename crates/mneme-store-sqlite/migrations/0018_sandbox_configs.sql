-- Sandbox configurations (/v1/sandbox-config): at most one of each kind, the record being the
-- wire SandboxConfig as JSON. Their environment variables keep their values sealed under the
-- server secret inside `data`; keys are unique per configuration.
CREATE TABLE sandbox_configs (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL UNIQUE,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE sandbox_env_vars (
    id                TEXT PRIMARY KEY,
    sandbox_config_id TEXT NOT NULL REFERENCES sandbox_configs (id) ON DELETE CASCADE,
    key               TEXT NOT NULL,
    data              TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (sandbox_config_id, key)
);
