"""Letta's name-keyed MCP routes (``/v1/tools/mcp/...``) and the connect streams, over raw HTTP:
letta-client 1.x has no methods for them (the seed-era SDK's are exercised in
``tests/sdk-seed/test_seed_mcp.py``). The servers are the ones ``client.mcp_servers`` serves by
id. The MCP server is ``tests/mcp/server.py``, run over stdio by mneme.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from _helpers import assert_http_error, random_id

SERVER_PY = str(Path(__file__).resolve().parent.parent / "mcp" / "server.py")


def stdio(name: str, **env: str) -> dict:
    return {
        "server_name": name,
        "type": "stdio",
        "command": sys.executable,
        "args": [SERVER_PY],
        "env": env or None,
    }


def events(resp) -> list[dict]:
    """The JSON payloads of an SSE response's ``data:`` lines."""
    assert resp.status_code == 200, resp.read()
    assert resp.headers["content-type"].startswith("text/event-stream")
    return [json.loads(line[len("data: ") :]) for line in resp.iter_lines() if line.startswith("data: ")]


def by_name(tools: list[dict]) -> dict:
    return {t["name"]: t for t in tools}


@pytest.fixture
def oauth_only_server():
    """An HTTP server that answers every request 401 with an OAuth challenge; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _refuse(self):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer resource_metadata="/.well-known/oauth"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_DELETE = _refuse

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/mcp"
    finally:
        httpd.shutdown()


def test_servers_by_name_are_the_servers_by_id(http, client, uid):
    name = f"legacy-{uid}"
    # No `type`: a config with a command is a stdio server, as in Letta's request union.
    body = {"server_name": name, "command": sys.executable, "args": [SERVER_PY]}
    resp = http.put("/v1/tools/mcp/servers", json=body)
    assert resp.status_code == 200, resp.text
    mine = [c for c in resp.json() if c["server_name"] == name]
    assert mine == [{**body, "type": "stdio", "env": None}]
    assert list(mine[0]) == ["server_name", "type", "command", "args", "env"]
    assert http.get("/v1/tools/mcp/servers").json()[name] == mine[0]

    server = {s.server_name: s for s in client.mcp_servers.list()}[name]
    assert "add" in {t.name for t in client.mcp_servers.tools.list(server.id)}

    resp = http.patch(f"/v1/tools/mcp/servers/{name}", json={"stdio_config": stdio(name, GREETING="hola")})
    assert resp.status_code == 200, resp.text
    assert resp.json()["env"] == {"GREETING": "hola"}
    assert client.mcp_servers.retrieve(server.id).env == {"GREETING": "hola"}

    run = http.post(f"/v1/tools/mcp/servers/{name}/tools/env/execute", json={"args": {"name": "GREETING"}})
    assert run.json() == {"result": "hola", "success": True}
    failed = http.post(f"/v1/tools/mcp/servers/{name}/tools/fail/execute", json={"args": {"message": f"no {uid}"}})
    assert failed.json()["success"] is False and f"no {uid}" in failed.json()["result"]

    renamed = f"legacy2-{uid}"
    resp = http.patch(f"/v1/tools/mcp/servers/{name}", json={"server_name": renamed})
    assert resp.json()["server_name"] == renamed
    assert client.mcp_servers.retrieve(server.id).server_name == renamed
    assert_http_error(http.get(f"/v1/tools/mcp/servers/{name}/tools"), 404)

    left = http.delete(f"/v1/tools/mcp/servers/{renamed}")
    assert left.status_code == 200 and renamed not in [c["server_name"] for c in left.json()]
    assert_http_error(http.get(f"/v1/mcp-servers/{server.id}"), 404)
    assert_http_error(http.delete(f"/v1/tools/mcp/servers/{renamed}"), 404)


def test_url_servers_show_their_config_and_take_a_token(http, uid):
    name = f"url-{uid}"
    body = {"server_name": name, "server_url": "http://127.0.0.1:9/sse", "custom_headers": {"X-Team": "m"}}
    resp = http.put("/v1/tools/mcp/servers", json=body)
    assert resp.status_code == 200, resp.text
    config = http.get("/v1/tools/mcp/servers").json()[name]
    assert config == {
        "server_name": name,
        "type": "sse",
        "server_url": "http://127.0.0.1:9/sse",
        "auth_header": None,
        "auth_token": None,
        "custom_headers": {"X-Team": "m"},
    }
    updated = http.patch(f"/v1/tools/mcp/servers/{name}", json={"token": "t0k"}).json()
    assert updated["auth_header"] == "Authorization" and updated["auth_token"] == "Bearer t0k"
    assert updated["custom_headers"] == {"X-Team": "m"}
    # A URL field on a stdio server, or a stdio_config on a URL server, cannot apply.
    assert_http_error(http.patch(f"/v1/tools/mcp/servers/{name}", json={"stdio_config": stdio(name), "token": "x"}), 422)
    # Its tools cannot be listed: nothing answers there.
    listed = http.get(f"/v1/tools/mcp/servers/{name}/tools")
    assert listed.status_code == 502 and listed.json()["error"]["type"] == "mcp_connection_error"
    dup = http.put("/v1/tools/mcp/servers", json=body)
    assert_http_error(dup, 409)
    http.delete(f"/v1/tools/mcp/servers/{name}")


def test_tools_are_listed_live_and_registered_by_name(http, client, uid):
    name = f"tools-{uid}"
    assert http.put("/v1/tools/mcp/servers", json=stdio(name)).status_code == 200
    listed = http.get(f"/v1/tools/mcp/servers/{name}/tools")
    assert listed.status_code == 200, listed.text
    add = by_name(listed.json())["add"]
    assert list(add) == [
        "name", "title", "description", "inputSchema", "outputSchema", "icons", "annotations", "_meta", "health",
    ]
    assert add["description"] == "Adds two integers."
    assert add["inputSchema"]["required"] == ["a", "b"]
    # Letta's repair closes the object schema before judging it.
    assert add["inputSchema"]["additionalProperties"] is False
    assert add["health"] == {"status": "STRICT_COMPLIANT", "reasons": []}

    server = {s.server_name: s for s in client.mcp_servers.list()}[name]
    registered = {t.name: t for t in client.mcp_servers.tools.list(server.id)}
    client.tools.delete(registered["echo"].id)
    resp = http.post(f"/v1/tools/mcp/servers/{name}/echo")
    assert resp.status_code == 200, resp.text
    tool = resp.json()
    assert tool["name"] == "echo" and tool["tool_type"] == "external_mcp"
    assert tool["tags"] == [f"mcp:{name}"] and tool["metadata_"]["mcp"]["server_id"] == server.id
    assert tool["id"] in [t.id for t in client.mcp_servers.tools.list(server.id)]
    again = http.post(f"/v1/tools/mcp/servers/{name}/echo").json()
    assert again["id"] == tool["id"]

    missing = http.post(f"/v1/tools/mcp/servers/{name}/nosuch")
    assert_http_error(missing, 400)
    assert "nosuch" in missing.json()["detail"] and "echo" in missing.json()["detail"]
    resync = http.post(f"/v1/tools/mcp/servers/{name}/resync", params={"agent_id": random_id("agent")})
    assert resync.json() == {"deleted": [], "updated": [], "added": []}
    assert_http_error(http.post(f"/v1/tools/mcp/servers/nosuch-{uid}/resync"), 404)
    assert_http_error(http.post(f"/v1/tools/mcp/servers/nosuch-{uid}/tools/add/execute", json={}), 404)
    http.delete(f"/v1/tools/mcp/servers/{name}")


def test_configs_are_tested_and_connected_without_being_stored(http, uid):
    name = f"probe-{uid}"
    resp = http.post("/v1/tools/mcp/servers/test", json=stdio(name))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "success"
    assert {"add", "echo"} <= set(by_name(resp.json()["tools"]))
    assert "health" not in resp.json()["tools"][0]

    with http.stream("POST", "/v1/tools/mcp/servers/connect", json=stdio(name)) as r:
        got = events(r)
    assert got[0] == {"event": "connection_attempt", "server_name": name}
    assert got[1]["event"] == "success" and "add" in by_name(got[1]["tools"])
    assert len(got) == 2
    assert name not in http.get("/v1/tools/mcp/servers").json()

    gone = {"server_name": name, "type": "streamable_http", "server_url": "http://127.0.0.1:9/mcp"}
    resp = http.post("/v1/tools/mcp/servers/test", json=gone)
    assert resp.status_code == 502 and resp.json()["error"]["type"] == "mcp_connection_error"
    with http.stream("POST", "/v1/tools/mcp/servers/connect", json=gone) as r:
        got = events(r)
    assert [e["event"] for e in got] == ["connection_attempt", "error"]
    assert got[1]["message"].startswith("Connection failed: ")

    bad = {"server_name": name, "type": "sse", "server_url": "ftp://example.com/sse"}
    assert_http_error(http.post("/v1/tools/mcp/servers/test", json=bad), 422)
    assert_http_error(http.post("/v1/tools/mcp/servers/test", json={"command": "x", "args": []}), 422)


def test_oauth_is_refused_with_a_clear_error(http, uid, oauth_only_server):
    config = {"server_name": f"oauth-{uid}", "type": "streamable_http", "server_url": oauth_only_server}
    with http.stream("POST", "/v1/tools/mcp/servers/connect", json=config) as r:
        got = events(r)
    assert [e["event"] for e in got] == ["connection_attempt", "error"]
    assert "OAuth" in got[1]["message"] and "auth_token" in got[1]["message"]

    resp = http.get("/v1/tools/mcp/oauth/callback", params={"code": "c0de", "state": "st4te"})
    assert_http_error(resp, 400)
    assert "OAuth" in resp.json()["detail"]
    denied = http.get("/v1/tools/mcp/oauth/callback", params={"error": "access_denied"})
    assert "access_denied" in denied.json()["detail"]


def test_a_stored_server_is_connected_by_id(http, client, uid):
    config = {"mcp_server_type": "stdio", "command": sys.executable, "args": [SERVER_PY]}
    server = client.mcp_servers.create(server_name=f"byid-{uid}", config=config)
    with http.stream("GET", f"/v1/mcp-servers/connect/{server.id}") as r:
        got = events(r)
    assert got[0] == {"event": "connection_attempt", "server_name": f"byid-{uid}"}
    assert got[1]["event"] == "success" and "echo" in by_name(got[1]["tools"])
    assert_http_error(http.get(f"/v1/mcp-servers/connect/{random_id('mcp_server')}"), 404)
    client.mcp_servers.delete(server.id)


def test_a_server_named_like_a_route_is_still_served_by_name(http):
    # `test` and `connect` are routes of their own for POST; PATCH and DELETE still reach the
    # server of that name.
    assert http.put("/v1/tools/mcp/servers", json=stdio("test")).status_code == 200
    try:
        resp = http.patch("/v1/tools/mcp/servers/test", json={"stdio_config": stdio("test", A="1")})
        assert resp.status_code == 200, resp.text
        assert resp.json()["env"] == {"A": "1"}
    finally:
        left = http.delete("/v1/tools/mcp/servers/test")
    assert left.status_code == 200 and "test" not in [c["server_name"] for c in left.json()]
