"""A seed-era application manages MCP servers by name through ``client.tools``: add, list,
list a server's tools, register one, update, test, connect and delete (``/v1/tools/mcp/...``).
The MCP server is ``tests/mcp/server.py`` over stdio, run by the 1.x suite's Python (this venv
has no ``mcp`` package): ``$MNEME_TEST_PYTHON``, else the venv ``$MNEME_SDK_VENV``, as the HTTP
suite finds it.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path

import letta_client
import pytest
from letta_client import McpTool, StdioServerConfig, Tool, UpdateStdioMcpServer
from letta_client.tools.types import ListMcpServersResponseValue

from _seed import assert_api_error, checked

SERVER_PY = str(Path(__file__).resolve().parent.parent / "mcp" / "server.py")
PYTHON = os.environ.get("MNEME_TEST_PYTHON") or str(
    Path(os.environ.get("MNEME_SDK_VENV", Path.home() / ".cache" / "mneme" / "sdk-venv")) / "bin" / "python"
)


def stdio(name: str, **env: str) -> StdioServerConfig:
    return StdioServerConfig(server_name=name, command=PYTHON, args=[SERVER_PY], env=env or None)


def test_mcp_servers_are_managed_by_name(client: letta_client.Letta, uid):
    name = f"seed-mcp-{uid}"
    added = client.tools.add_mcp_server(request=stdio(name))
    assert name in [c.server_name for c in added]
    servers = checked(
        client.tools.with_raw_response.list_mcp_servers(), typing.Dict[str, ListMcpServersResponseValue]
    )
    assert servers[name].command == PYTHON and servers[name].type == "stdio"

    # Not `checked`: pydantic alone does not know the SDK's `inputSchema` alias.
    tools = client.tools.list_mcp_tools_by_server(mcp_server_name=name)
    assert all(isinstance(t, McpTool) for t in tools)
    add = {t.name: t for t in tools}["add"]
    assert add.input_schema["required"] == ["a", "b"]
    assert add.health.status == "STRICT_COMPLIANT"

    tool = checked(client.tools.with_raw_response.add_mcp_tool(mcp_server_name=name, mcp_tool_name="echo"), Tool)
    assert tool.name == "echo" and tool.tool_type == "external_mcp" and tool.tags == [f"mcp:{name}"]
    assert client.tools.retrieve(tool.id).id == tool.id

    updated = client.tools.update_mcp_server(
        mcp_server_name=name, request=UpdateStdioMcpServer(stdio_config=stdio(name, GREETING="hi"))
    )
    assert updated.env == {"GREETING": "hi"}

    left = client.tools.delete_mcp_server(mcp_server_name=name)
    assert name not in [c.server_name for c in left]
    with pytest.raises(letta_client.core.ApiError) as exc:
        client.tools.list_mcp_tools_by_server(mcp_server_name=name)
    assert_api_error(exc.value, 404)


def test_a_config_is_tested_and_connected(client: letta_client.Letta, uid):
    name = f"seed-probe-{uid}"
    result = client.tools.test_mcp_server(request=stdio(name))
    assert result["status"] == "success"
    assert "add" in [t["name"] for t in result["tools"]]

    got = list(client.tools.connect_mcp_server(request=stdio(name)))
    assert [e.event for e in got] == ["connection_attempt", "success"]
    assert name not in client.tools.list_mcp_servers()
