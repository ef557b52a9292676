-- Sandbox configurations (/v1/sandbox-config): at most one of each kind, the record being the
-- wire SandboxConfig as JSON. Their environment variables keep their values sealed under the
-- server secret inside `data`; keys are unique per configuration.
CREATE TABLE sandbox_configs (
    id         TEXT COLLATE "C" PRIMARY KEY,
    kind       TEXT COLLATE "C" NOT NULL UNIQUE,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sandbox_env_vars (
    id                TEXT COLLATE "C" PRIMARY KEY,
    sandbox_config_id TEXT COLLATE "C" NOT NULL REFERENCES sandbox_configs (id) ON DELETE CASCADE,
    key               TEXT COLLATE "C" NOT NULL,
    data              TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (sandbox_config_id, key)
);
