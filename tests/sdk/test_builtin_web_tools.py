"""The web built-ins (`web_search`, `fetch_webpage`) and the tool routes beside the registry,
through letta-client: `tools.search`, `agents.tools.run`, and the unwrapped
`POST /v1/tools/add-base-tools` and `/v1/tools/generate-schema`.

Pages and search answers come from a small HTTP server in this process, which private mneme
servers reach through their settings (`MNEME_FETCH_ALLOW_PRIVATE`, `MNEME_SEARXNG_URL`).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from _helpers import assert_http_error, make_agent

PAGE = b"<html><body><h1>Changelog</h1><script>secret()</script><p>Fixed &lt;bugs&gt;.</p></body></html>"


class _Web(BaseHTTPRequestHandler):
    searches: list[dict] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        if url.path == "/page":
            self._answer(200, "text/html", PAGE)
        elif url.path == "/search":
            _Web.searches.append(parse_qs(url.query))
            results = [{"title": "Letta docs", "url": "https://docs.letta.com/", "content": "Agents with memory."}]
            self._answer(200, "application/json", json.dumps({"results": results}).encode())
        else:
            self._answer(404, "text/plain", b"no")

    def _answer(self, status: int, kind: str, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    _Web.searches = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_agent_created_with_web_tools_by_name(client, uid):
    agent = make_agent(client, f"web-{uid}", tools=["web_search", "fetch_webpage"])
    tools = {t.name: t for t in agent.tools}
    assert tools["web_search"].tool_type == "letta_builtin"
    assert tools["fetch_webpage"].json_schema["parameters"]["required"] == ["url"]
    params = tools["web_search"].json_schema["parameters"]["properties"]
    assert params["num_results"]["type"] == "integer"
    assert params["include_domains"] == {**params["include_domains"], "type": "array", "items": {"type": "string"}}


def test_web_search_without_a_backend_is_an_error_result(client, uid):
    agent = make_agent(client, f"web-{uid}", tools=["web_search"])
    result = client.agents.tools.run("web_search", agent_id=agent.id, args={"query": "letta"})
    assert result.status == "error"
    assert "TAVILY_API_KEY" in result.func_return


def test_fetch_webpage_refuses_the_local_network_by_default(client, web, uid):
    agent = make_agent(client, f"web-{uid}", tools=["fetch_webpage"])
    result = client.agents.tools.run("fetch_webpage", agent_id=agent.id, args={"url": f"{web}/page"})
    assert result.status == "error"
    assert "refusing to fetch" in result.func_return
    assert "Changelog" not in result.func_return


def test_fetch_and_search_on_a_server_that_allows_them(server_factory, web, tmp_path, uid):
    srv = server_factory(tmp_path / "data", env={"MNEME_FETCH_ALLOW_PRIVATE": "true", "MNEME_SEARXNG_URL": web})
    client = srv.client()
    agent = make_agent(client, f"web-{uid}", tools=["web_search", "fetch_webpage"])
    page = client.agents.tools.run("fetch_webpage", agent_id=agent.id, args={"url": f"{web}/page"})
    assert page.status == "success"
    assert "Changelog" in page.func_return and "Fixed <bugs>." in page.func_return
    assert "secret()" not in page.func_return
    found = client.agents.tools.run("web_search", agent_id=agent.id, args={"query": "letta", "num_results": 1})
    assert found.status == "success"
    doc = json.loads(found.func_return)
    assert doc["results"] == [
        {"title": "Letta docs", "url": "https://docs.letta.com/", "published_date": None, "author": None,
         "summary": "Agents with memory."}
    ]
    assert _Web.searches[-1]["q"] == ["letta"]


def test_search_tools_ranks_by_words(client, uid):
    results = client.tools.search(query="fetch webpage", limit=5)
    assert results[0].tool.name == "fetch_webpage"
    assert results[0].fts_rank == 1 and results[0].combined_score > 0
    typed = client.tools.search(tool_types=["letta_builtin"])
    assert {r.tool.tool_type for r in typed} == {"letta_builtin"}


def test_add_base_tools_and_generate_schema(http, uid):
    resp = http.post("/v1/tools/add-base-tools")
    assert resp.status_code == 200, resp.text
    names = {t["name"] for t in resp.json()}
    assert {"send_message", "memory_insert", "web_search", "fetch_webpage"} <= names
    code = f'def greet_{uid}(name: str) -> str:\n    """Greet.\n\n    Args:\n        name: Who.\n    """\n    return name\n'
    resp = http.post("/v1/tools/generate-schema", json={"code": code})
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == f"greet_{uid}"
    assert resp.json()["parameters"]["properties"]["name"] == {"type": "string", "description": "Who."}
    assert_http_error(http.post("/v1/tools/generate-schema", json={"code": "x = 1"}), 422)


def test_run_unknown_tool_of_agent_is_404(client, http, uid):
    agent = make_agent(client, f"web-{uid}")
    assert_http_error(http.post(f"/v1/agents/{agent.id}/tools/nope/run", json={"args": {}}), 404)
