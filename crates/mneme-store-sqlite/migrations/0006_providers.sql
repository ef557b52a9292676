-- Providers created through /v1/providers. The record is one JSON document whose API key is
-- already sealed under the server secret; names are unique (they are handle prefixes).
CREATE TABLE providers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    provider_type TEXT NOT NULL,
    data          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
