"""mneme's own /openapi.json: what the response check (response_check.py) validates against."""

from __future__ import annotations

import httpx
import response_check


def _record(server, path: str, response: httpx.Response) -> response_check.Record:
    return response_check.Record(server.base_url, "get", path, response)


def test_the_response_check_can_fail(server, client, uid):
    doc = httpx.get(f"{server.base_url}/openapi.json", timeout=10.0).json()
    checker = response_check._Checker(doc)
    agent = client.agents.create(name=f"oa-{uid}", model="openai/gpt-4o-mini")
    path = f"/v1/agents/{agent.id}"
    real = httpx.get(f"{server.base_url}{path}", timeout=10.0)
    assert checker.check(_record(server, path, real)) == []
    broken = real.json()
    broken["id"] = "not-an-agent-id"
    del broken["name"]
    fake = httpx.Response(200, json=broken, request=real.request)
    problems = checker.check(_record(server, path, fake))
    assert any("not-an-agent-id" in p for p in problems), problems
    assert any("'name' is a required property" in p for p in problems), problems


def test_every_route_answering_is_documented(server):
    doc = httpx.get(f"{server.base_url}/openapi.json", timeout=10.0).json()
    ops = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert ("get", "/v1/agents/{agent_id}") in ops and ("post", "/v1/agents/{agent_id}/messages/stream") in ops
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    # The SDK's generated method names key on Letta's operationIds.
    assert {"list_agents", "create_agent", "retrieve_agent", "send_message", "list_blocks"} <= set(ids)
