"""MCP servers through letta-client: registration, tools, runs, agents calling them, errors.

The MCP server is ``tests/mcp/server.py`` (official ``mcp`` package, pinned in
requirements.txt), run by this venv's Python: over stdio by mneme, or over streamable HTTP by
the ``http_mcp`` fixture.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import letta_client
import pytest
from letta_client.types import StdioMcpServer, StreamableHTTPMcpServer

from _helpers import assert_error_body, assert_id, make_agent, random_id, types

SERVER_PY = str(Path(__file__).resolve().parent.parent / "mcp" / "server.py")


def stdio_config(**env: str) -> dict:
    config = {"mcp_server_type": "stdio", "command": sys.executable, "args": [SERVER_PY]}
    if env:
        config["env"] = env
    return config


@pytest.fixture
def http_mcp():
    """server.py on streamable HTTP; yields its /mcp URL."""
    proc = subprocess.Popen(
        [sys.executable, SERVER_PY, "--transport", "streamable-http"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.match(r"PORT (\d+)", line)
        assert m, f"MCP test server did not start: {line!r}"
        yield f"http://127.0.0.1:{m.group(1)}/mcp"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def by_name(tools) -> dict:
    return {t.name: t for t in tools}


def test_stdio_server_lifecycle(client, uid):
    server = client.mcp_servers.create(server_name=f"calc-{uid}", config=stdio_config(GREETING="hi"))
    assert isinstance(server, StdioMcpServer)
    assert_id(server.id, "mcp_server")
    assert server.mcp_server_type == "stdio"
    assert server.command == sys.executable and server.args == [SERVER_PY]
    assert server.env == {"GREETING": "hi"}

    assert client.mcp_servers.retrieve(server.id).server_name == f"calc-{uid}"
    assert server.id in [s.id for s in client.mcp_servers.list()]

    tools = by_name(client.mcp_servers.tools.list(server.id))
    assert {"add", "echo", "fail"} <= set(tools)
    add = tools["add"]
    assert add.tool_type == "external_mcp"
    assert add.tags == [f"mcp:calc-{uid}"]
    assert add.metadata_["mcp"]["server_id"] == server.id
    assert add.json_schema["parameters"]["required"] == ["a", "b"]
    assert client.mcp_servers.tools.retrieve(add.id, mcp_server_id=server.id).id == add.id

    result = client.mcp_servers.tools.run(add.id, mcp_server_id=server.id, args={"a": 2, "b": 3})
    assert result.status == "success" and result.func_return == "5"
    failed = client.mcp_servers.tools.run(tools["fail"].id, mcp_server_id=server.id, args={"message": "nope"})
    assert failed.status == "error" and "nope" in failed.func_return

    updated = client.mcp_servers.update(
        server.id, server_name=f"calc2-{uid}", config={"mcp_server_type": "stdio", "env": {"GREETING": "bye"}}
    )
    assert updated.server_name == f"calc2-{uid}" and updated.env == {"GREETING": "bye"}
    greeting = client.mcp_servers.tools.run(tools["env"].id, mcp_server_id=server.id, args={"name": "GREETING"})
    assert greeting.func_return == "bye"
    assert client.mcp_servers.refresh(server.id) == {"deleted": [], "updated": [], "added": []}

    client.mcp_servers.delete(server.id)
    with pytest.raises(letta_client.NotFoundError) as exc:
        client.mcp_servers.retrieve(server.id)
    assert_error_body(exc.value, 404)
    with pytest.raises(letta_client.NotFoundError):
        client.tools.retrieve(add.id)


def test_agent_calls_mcp_tools_and_failures_are_error_returns(client, fake, uid):
    server = client.mcp_servers.create(server_name=f"agent-{uid}", config=stdio_config())
    tools = by_name(client.mcp_servers.tools.list(server.id))
    agent = make_agent(client, f"mcp-{uid}", tool_ids=[tools["add"].id])
    client.agents.tools.attach(tools["fail"].id, agent_id=agent.id)

    fake.push({"tool_calls": [{"name": "add", "arguments": {"a": 20, "b": 22}}]}, {"text": "42 it is."})
    resp = client.agents.messages.create(agent_id=agent.id, input="add them")
    assert types(resp.messages) == ["tool_call_message", "tool_return_message", "assistant_message"]
    ret = resp.messages[1]
    assert ret.status == "success"
    assert ret.tool_return == "42"
    offered = {t["function"]["name"] for t in fake.requests()[0]["tools"]}
    assert {"add", "fail"} <= offered

    fake.push({"tool_calls": [{"name": "fail", "arguments": {"message": f"broken {uid}"}}]}, {"text": "Sorry."})
    resp = client.agents.messages.create(agent_id=agent.id, input="fail please")
    ret = resp.messages[1]
    assert ret.status == "error" and f"broken {uid}" in ret.tool_return
    assert resp.messages[2].content == "Sorry."
    assert resp.stop_reason.stop_reason == "end_turn"
    client.mcp_servers.delete(server.id)


def test_streamable_http_server(client, http_mcp, uid):
    server = client.mcp_servers.create(
        server_name=f"web-{uid}",
        config={
            "mcp_server_type": "streamable_http",
            "server_url": http_mcp,
            "auth_header": "Authorization",
            "auth_token": "Bearer t0ken",
            "custom_headers": {"X-Team": "mneme"},
        },
    )
    assert isinstance(server, StreamableHTTPMcpServer)
    assert server.server_url == http_mcp and server.custom_headers == {"X-Team": "mneme"}
    echo = by_name(client.mcp_servers.tools.list(server.id))["echo"]
    result = client.mcp_servers.tools.run(echo.id, mcp_server_id=server.id, args={"text": uid})
    assert result.status == "success" and result.func_return == uid
    client.mcp_servers.delete(server.id)


def test_bad_requests_are_4xx(client, uid):
    with pytest.raises(letta_client.UnprocessableEntityError):
        client.mcp_servers.create(
            server_name=f"bad-{uid}", config={"mcp_server_type": "sse", "server_url": "ftp://example.com/sse"}
        )
    server = client.mcp_servers.create(server_name=f"dup-{uid}", config=stdio_config())
    with pytest.raises(letta_client.ConflictError) as exc:
        client.mcp_servers.create(server_name=f"dup-{uid}", config=stdio_config())
    assert_error_body(exc.value, 409)
    with pytest.raises(letta_client.NotFoundError):
        client.mcp_servers.retrieve(random_id("mcp_server"))
    with pytest.raises(letta_client.NotFoundError):
        client.mcp_servers.tools.retrieve(random_id("tool"), mcp_server_id=server.id)
    client.mcp_servers.delete(server.id)


def test_unreachable_server_is_created_but_its_tools_are_a_502(client, uid):
    server = client.mcp_servers.create(
        server_name=f"gone-{uid}",
        config={"mcp_server_type": "streamable_http", "server_url": "http://127.0.0.1:9/mcp"},
    )
    with pytest.raises(letta_client.APIStatusError) as exc:
        client.mcp_servers.tools.list(server.id)
    assert exc.value.status_code == 502
    assert exc.value.body["error"]["type"] == "mcp_connection_error"
    client.mcp_servers.delete(server.id)
