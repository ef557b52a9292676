"""Response shapes on the wire: every field the SDK models declare is present (null, not omitted),
relationship arrays are arrays, timestamps are ISO 8601."""

from __future__ import annotations

import re
from datetime import datetime

from letta_client.types import AgentState, BlockResponse
from letta_client.types.agent_state import Memory

from _helpers import MODEL, make_agent

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")


def _field_names(model) -> set[str]:
    return {(f.alias or name) for name, f in model.model_fields.items()}


AGENT_FIELDS = _field_names(AgentState)
MEMORY_FIELDS = _field_names(Memory)
BLOCK_FIELDS = _field_names(BlockResponse)
AGENT_BLOCK_FIELDS = _field_names(AgentState.model_fields["blocks"].annotation.__args__[0])


def _check_agent_json(body: dict, where: str) -> None:
    missing = sorted(AGENT_FIELDS - set(body))
    assert not missing, f"{where}: AgentState keys missing: {missing}"
    for key in ("blocks", "tools", "sources", "tags"):
        assert isinstance(body[key], list), f"{where}: {key} is {body[key]!r}, not a list"
    assert isinstance(body["memory"], dict), f"{where}: memory is not an object"
    missing = sorted(MEMORY_FIELDS - set(body["memory"]))
    assert not missing, f"{where}: memory keys missing: {missing}"
    assert isinstance(body["memory"]["blocks"], list)
    for blk in body["blocks"] + body["memory"]["blocks"]:
        missing = sorted(AGENT_BLOCK_FIELDS - set(blk))
        assert not missing, f"{where}: block keys missing: {missing}"
    for key in ("created_at", "updated_at"):
        assert body[key] is None or TIMESTAMP.match(body[key]), f"{where}: {key}={body[key]!r}"
    assert body["created_at"] is not None, f"{where}: created_at is null"


def test_agent_state_has_every_declared_field(client, http, uid):
    raw = client.agents.with_raw_response.create(
        name=f"wire-{uid}", model=MODEL, memory_blocks=[{"label": "human", "value": "x"}]
    )
    created = raw.http_response.json()
    _check_agent_json(created, "create")
    assert created["description"] is None  # unset optionals are null, not omitted
    agent_id = created["id"]

    _check_agent_json(client.agents.with_raw_response.retrieve(agent_id).http_response.json(), "retrieve")
    _check_agent_json(
        client.agents.with_raw_response.retrieve(agent_id, include=["agent.blocks"]).http_response.json(),
        "retrieve+include",
    )
    _check_agent_json(
        client.agents.with_raw_response.update(agent_id, description="d").http_response.json(), "update"
    )
    listed = client.agents.with_raw_response.list(name=f"wire-{uid}").http_response.json()
    assert isinstance(listed, list) and len(listed) == 1
    _check_agent_json(listed[0], "list")

    block = client.blocks.create(label=f"wire_{uid}", value="v")
    attached = client.agents.blocks.with_raw_response.attach(block.id, agent_id=agent_id).http_response.json()
    _check_agent_json(attached, "attach")
    assert f"wire_{uid}" in [b["label"] for b in attached["blocks"]]


def test_block_response_has_every_declared_field(client, uid):
    raw = client.blocks.with_raw_response.create(label=f"wireb_{uid}", value="v").http_response.json()
    missing = sorted(BLOCK_FIELDS - set(raw))
    assert not missing, f"BlockResponse keys missing: {missing}"
    got = client.blocks.with_raw_response.retrieve(raw["id"]).http_response.json()
    assert not sorted(BLOCK_FIELDS - set(got))
    agent = make_agent(client, f"wireb-{uid}")
    for blk in client.agents.blocks.with_raw_response.list(agent.id).http_response.json():
        assert not sorted(BLOCK_FIELDS - set(blk)), blk


def test_timestamps_parse_and_advance(client, uid):
    agent = make_agent(client, f"ts-{uid}")
    assert isinstance(agent.created_at, datetime) and agent.created_at.tzinfo is not None
    updated = client.agents.update(agent.id, description="later")
    assert updated.updated_at is not None and updated.updated_at >= agent.created_at
    assert updated.created_at == agent.created_at
