-- MCP servers users registered. The config (command and environment, or URL and headers) is
-- one JSON document tagged by its kind; names are unique, as tools' are.
CREATE TABLE mcp_servers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    server_type TEXT NOT NULL,
    config      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Tools registered from an MCP server carry it in their metadata, as in Letta
-- (`metadata_.mcp.server_id`); this finds a server's tools without scanning every tool.
CREATE INDEX tools_by_mcp_server ON tools (json_extract(data, '$.metadata_.mcp.server_id'))
    WHERE tool_type = 'external_mcp';
