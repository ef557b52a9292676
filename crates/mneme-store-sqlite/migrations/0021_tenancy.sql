-- The control plane: organizations, their users, the users' API keys (only a SHA-256 of each
-- key) and the audit log of mutations. Each organization's own data is in a store of its own;
-- these live in the server's main database only. Booleans are 0/1, times microseconds.
CREATE TABLE organizations (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    privileged_tools INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE INDEX organizations_by_created ON organizations (created_at, id);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX users_by_created ON users (created_at, id);
CREATE INDEX users_by_org ON users (organization_id, created_at, id);

-- A key's organization is its user's (kept beside it for listings by organization).
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);
CREATE INDEX api_keys_by_created ON api_keys (created_at, id);
CREATE INDEX api_keys_by_user ON api_keys (user_id);

-- No foreign keys: entries outlive the organizations, users and keys they name.
CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    key_id          TEXT,
    method          TEXT NOT NULL,
    route           TEXT NOT NULL,
    path            TEXT NOT NULL,
    status          INTEGER NOT NULL,
    request_id      TEXT
);
CREATE INDEX audit_log_by_org ON audit_log (organization_id, seq);
CREATE INDEX audit_log_by_user ON audit_log (user_id, seq);

-- Letta's default organization and user, which data written without a tenant belongs to.
INSERT INTO organizations (id, name, privileged_tools, created_at)
VALUES ('org-00000000-0000-4000-8000-000000000000', 'default_org', 0,
        CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
INSERT INTO users (id, organization_id, name, created_at, updated_at)
VALUES ('user-00000000-0000-4000-8000-000000000000', 'org-00000000-0000-4000-8000-000000000000',
        'default_user', CAST(strftime('%s', 'now') AS INTEGER) * 1000000,
        CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
