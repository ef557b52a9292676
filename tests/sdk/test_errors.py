"""Error statuses and bodies as the SDK sees them, plus raw-HTTP wire checks."""

from __future__ import annotations

import uuid

import letta_client
import pytest

from _helpers import (
    MODEL,
    assert_error_body,
    assert_http_error,
    count_agents,
    make_agent,
    random_id,
)


@pytest.fixture
def agent(client, uid):
    return make_agent(client, f"err-{uid}")


# -- unknown but well-formed ids -> 404 ------------------------------------------------------------


def _calls_unknown(client):
    aid, bid = random_id("agent"), random_id("block")
    return {
        "agents.retrieve": lambda: client.agents.retrieve(aid),
        "agents.update": lambda: client.agents.update(aid, name="x"),
        "agents.delete": lambda: client.agents.delete(aid),
        "agents.blocks.list": lambda: list(client.agents.blocks.list(aid)),
        "agents.blocks.retrieve": lambda: client.agents.blocks.retrieve("human", agent_id=aid),
        "agents.blocks.update": lambda: client.agents.blocks.update("human", agent_id=aid, value="v"),
        "blocks.retrieve": lambda: client.blocks.retrieve(bid),
        "blocks.update": lambda: client.blocks.update(bid, value="v"),
        "blocks.delete": lambda: client.blocks.delete(bid),
        "blocks.agents.list": lambda: list(client.blocks.agents.list(bid)),
    }


@pytest.mark.parametrize("call", list(_calls_unknown(None).keys()))
def test_unknown_ids_are_404(client, call):
    with pytest.raises(letta_client.NotFoundError) as ei:
        _calls_unknown(client)[call]()
    assert_error_body(ei.value, 404)


def test_attach_unknown_block_is_404(client, agent):
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.agents.blocks.attach(random_id("block"), agent_id=agent.id)
    assert_error_body(ei.value, 404)
    with pytest.raises(letta_client.NotFoundError):
        client.agents.blocks.detach(random_id("block"), agent_id=agent.id)


def test_attach_to_unknown_agent_is_404(client, uid):
    block = client.blocks.create(label=f"orphan_{uid}", value="v")
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.agents.blocks.attach(block.id, agent_id=random_id("agent"))
    assert_error_body(ei.value, 404)


def test_create_agent_with_unknown_block_id_fails_and_creates_nothing(client, http, uid):
    name = f"badblk-{uid}"
    with pytest.raises(letta_client.APIStatusError) as ei:
        client.agents.create(name=name, model=MODEL, block_ids=[random_id("block")])
    assert ei.value.status_code in (400, 404, 422), ei.value
    assert isinstance(ei.value.body, dict) and "detail" in ei.value.body
    assert count_agents(http, name=name) == 0


# -- malformed ids -> 422 --------------------------------------------------------------------------


def _calls_malformed(client, agent_id):
    return {
        "agents.retrieve agent-123": lambda: client.agents.retrieve("agent-123"),
        "agents.update agent-123": lambda: client.agents.update("agent-123", name="x"),
        "agents.delete agent-123": lambda: client.agents.delete("agent-123"),
        "agents.retrieve wrong prefix": lambda: client.agents.retrieve(random_id("block")),
        "agents.retrieve not-a-uuid": lambda: client.agents.retrieve("agent-" + "z" * 36),
        "agents.blocks.list agent-123": lambda: list(client.agents.blocks.list("agent-123")),
        "blocks.retrieve block-xyz": lambda: client.blocks.retrieve("block-xyz"),
        "blocks.update block-xyz": lambda: client.blocks.update("block-xyz", value="v"),
        "blocks.delete block-xyz": lambda: client.blocks.delete("block-xyz"),
        "blocks.retrieve wrong prefix": lambda: client.blocks.retrieve(random_id("agent")),
        "blocks.agents.list block-xyz": lambda: list(client.blocks.agents.list("block-xyz")),
        "agents.blocks.attach block-xyz": lambda: client.agents.blocks.attach("block-xyz", agent_id=agent_id),
        "agents.blocks.detach block-xyz": lambda: client.agents.blocks.detach("block-xyz", agent_id=agent_id),
    }


@pytest.mark.parametrize("call", list(_calls_malformed(None, "").keys()))
def test_malformed_ids_are_422(client, agent, call):
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        _calls_malformed(client, agent.id)[call]()
    assert_error_body(ei.value, 422)


# -- malformed bodies -> 422 -----------------------------------------------------------------------


def test_memory_block_without_value_is_422(client, http, uid):
    name = f"noval-{uid}"
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.agents.create(name=name, model=MODEL, memory_blocks=[{"label": "human"}])  # type: ignore[list-item]
    assert_error_body(ei.value, 422)
    assert count_agents(http, name=name) == 0


def test_block_limit_as_string_is_422(client, uid):
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.blocks.create(label=f"strlim_{uid}", value="v", limit="abc")  # type: ignore[arg-type]
    assert_error_body(ei.value, 422)
    assert list(client.blocks.list(label=f"strlim_{uid}")) == []


def test_tags_not_a_list_is_422(client, http, uid):
    name = f"badtags-{uid}"
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.agents.create(name=name, model=MODEL, tags=5)  # type: ignore[arg-type]
    assert_error_body(ei.value, 422)
    assert count_agents(http, name=name) == 0
    r = http.post("/v1/agents/", json={"name": name, "model": MODEL, "tags": {"a": 1}})
    assert_http_error(r, 422)
    assert count_agents(http, name=name) == 0


def test_update_with_bad_types_is_422(client, agent):
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.agents.update(agent.id, tags=7)  # type: ignore[arg-type]
    assert_error_body(ei.value, 422)
    with pytest.raises(letta_client.UnprocessableEntityError):
        client.agents.update(agent.id, metadata=["not", "an", "object"])  # type: ignore[arg-type]
    got = client.agents.retrieve(agent.id, include=["agent.tags"])
    assert got.name == agent.name and got.tags == agent.tags


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/blocks/", {"label": "x"}),
        ("/v1/blocks/", {"value": "x"}),
        ("/v1/blocks/", {"label": "x", "value": "y", "limit": "abc"}),
        ("/v1/blocks/", {"label": "x", "value": 12}),
        ("/v1/blocks/", [1, 2, 3]),
        ("/v1/agents/", {"memory_blocks": [{"label": "human"}], "model": MODEL}),
        ("/v1/agents/", {"memory_blocks": "human", "model": MODEL}),
        ("/v1/agents/", {"name": 42, "model": MODEL}),
    ],
)
def test_malformed_bodies_raw_422(http, path, body):
    assert_http_error(http.post(path, json=body), 422)


def test_invalid_json_is_422(http):
    r = http.post("/v1/agents/", content=b'{"name": ', headers={"content-type": "application/json"})
    assert_http_error(r, 422)
    r = http.post("/v1/blocks/", content=b"not json", headers={"content-type": "application/json"})
    assert_http_error(r, 422)


# -- raw HTTP ---------------------------------------------------------------------------------------


def test_health(http, client):
    r = http.get("/v1/health/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ok"
    assert isinstance(body["version"], str) and body["version"]
    h = client.health()
    assert h.status == "ok" and h.version == body["version"]


@pytest.mark.parametrize("path", ["/v1/agents/", "/v1/agents", "/v1/blocks/", "/v1/blocks"])
def test_collection_paths_with_and_without_slash(http, path):
    r = http.get(path, params={"limit": 1})
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), list)


@pytest.mark.parametrize("path", ["/v1/agents/", "/v1/agents"])
def test_create_agent_with_and_without_slash(http, path, uid):
    name = f"slash-{uid}"
    r = http.post(path, json={"name": name, "model": MODEL, "memory_blocks": [{"label": "human", "value": "x"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == name and body["id"].startswith("agent-")
    assert [b["label"] for b in body["blocks"]] == ["human"]


def test_list_responses_are_bare_arrays(http, client, uid):
    agent = make_agent(client, f"bare-{uid}")
    block_id = agent.blocks[0].id
    for path in (
        "/v1/agents/",
        "/v1/blocks/",
        f"/v1/agents/{agent.id}/core-memory/blocks",
        f"/v1/blocks/{block_id}/agents",
    ):
        r = http.get(path)
        assert r.status_code == 200, (path, r.text)
        assert isinstance(r.json(), list), (path, r.text[:200])
    assert [b["label"] for b in http.get(f"/v1/agents/{agent.id}/core-memory/blocks").json()] != []
    assert [a["id"] for a in http.get(f"/v1/blocks/{block_id}/agents").json()] == [agent.id]


def test_query_arrays_as_repeated_keys(http, client, uid):
    a = make_agent(client, f"rep-a-{uid}", tags=[f"r1-{uid}"])
    b = make_agent(client, f"rep-b-{uid}", tags=[f"r2-{uid}"])
    r = http.get("/v1/agents/", params=[("tags", f"r1-{uid}"), ("tags", f"r2-{uid}")])
    assert r.status_code == 200
    assert {x["id"] for x in r.json()} == {a.id, b.id}


def test_delete_responses_are_json(http, client, uid):
    agent = make_agent(client, f"deljson-{uid}")
    r = http.delete(f"/v1/agents/{agent.id}")
    assert r.status_code == 200, r.text
    if r.headers.get("content-type", "").startswith("application/json"):
        r.json()  # must parse: an empty JSON-typed body breaks the SDK
    block = client.blocks.create(label=f"deljson_{uid}", value="v")
    r = http.delete(f"/v1/blocks/{block.id}")
    assert r.status_code in (200, 204), r.text
    if r.headers.get("content-type", "").startswith("application/json"):
        r.json()
    # the SDK itself must not choke either
    other = client.blocks.create(label=f"deljson2_{uid}", value="v")
    client.blocks.delete(other.id)


def test_unknown_route_is_404_json(http):
    r = http.get(f"/v1/definitely-not-a-route-{uuid.uuid4().hex}")
    assert r.status_code == 404
