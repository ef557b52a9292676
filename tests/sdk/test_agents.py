"""Agents through letta-client 1.12.1: create, retrieve (include), list, update, delete."""

from __future__ import annotations

import time

import letta_client
import pytest

from _helpers import (
    HUMAN,
    MODEL,
    PERSONA,
    assert_error_body,
    assert_id,
    by_label,
    count_agents,
    labels,
    make_agent,
)


# -- create ----------------------------------------------------------------------------------------


def test_create_agent_returns_full_state(client, uid):
    name = f"ada-{uid}"
    agent = client.agents.create(
        name=name,
        description="An agent for the SDK suite",
        model=MODEL,
        memory_blocks=[dict(HUMAN), dict(PERSONA)],
        tags=[f"t1-{uid}", f"t2-{uid}"],
        metadata={"team": "sdk", "n": 3},
    )
    assert_id(agent.id, "agent")
    assert agent.name == name
    assert agent.description == "An agent for the SDK suite"
    assert sorted(agent.tags) == sorted([f"t1-{uid}", f"t2-{uid}"])
    assert agent.metadata == {"team": "sdk", "n": 3}

    assert isinstance(agent.memory.blocks, list)
    assert labels(agent.memory.blocks) == ["human", "persona"]
    assert [b.value for b in agent.memory.blocks] == ["Name: Ada", "I am terse."]
    assert labels(agent.blocks) == ["human", "persona"]
    assert [b.value for b in agent.blocks] == ["Name: Ada", "I am terse."]
    for b in agent.blocks:
        assert_id(b.id, "block")
        assert isinstance(b.limit, int) and b.limit >= len(b.value)
    assert [b.id for b in agent.blocks] == [b.id for b in agent.memory.blocks]

    assert agent.llm_config.model == "gpt-4o-mini"
    assert agent.llm_config.model_endpoint_type == "openai"
    assert agent.model == MODEL
    assert isinstance(agent.system, str) and agent.system.strip()
    assert agent.agent_type == "letta_v1_agent"
    assert agent.message_ids is not None and len(agent.message_ids) == 1
    assert_id(agent.message_ids[0], "message")
    assert agent.created_at is not None


def test_create_agent_raw_json_has_required_keys(client, uid):
    raw = client.agents.with_raw_response.create(name=f"raw-{uid}", model=MODEL, memory_blocks=[dict(HUMAN)])
    assert raw.http_response.status_code == 200
    body = raw.http_response.json()
    for key in ("id", "name", "system", "agent_type", "llm_config", "memory", "blocks", "tools", "sources", "tags"):
        assert key in body, f"AgentState lacks required key {key!r}"
    assert body["llm_config"]["model"] == "gpt-4o-mini"
    assert isinstance(body["llm_config"]["context_window"], int)
    assert isinstance(body["memory"], dict) and isinstance(body["memory"]["blocks"], list)
    assert isinstance(body["tools"], list) and isinstance(body["sources"], list)


def test_agent_types_get_different_system_prompts(client, uid):
    v1 = make_agent(client, f"v1-{uid}")
    v2 = make_agent(client, f"v2-{uid}", agent_type="memgpt_v2_agent")
    mg = make_agent(client, f"mg-{uid}", agent_type="memgpt_agent")
    assert v1.agent_type == "letta_v1_agent"
    assert v2.agent_type == "memgpt_v2_agent"
    assert mg.agent_type == "memgpt_agent"
    for a in (v1, v2, mg):
        assert isinstance(a.system, str) and a.system.strip(), f"{a.agent_type} has an empty system prompt"
    assert v2.system != v1.system
    assert mg.system != v1.system
    # stored, not just echoed
    assert client.agents.retrieve(v2.id).system == v2.system
    assert client.agents.retrieve(mg.id).agent_type == "memgpt_agent"


def test_explicit_system_prompt_is_stored_verbatim(client, uid):
    system = f"You are test bot {uid}.\n\nAnswer in one word.  Trailing spaces stay.  "
    agent = make_agent(client, f"sys-{uid}", system=system)
    assert agent.system == system
    assert client.agents.retrieve(agent.id).system == system


def test_create_without_name_generates_one(client):
    agent = client.agents.create(model=MODEL, memory_blocks=[dict(HUMAN)])
    assert isinstance(agent.name, str) and agent.name
    client.agents.delete(agent.id)


# -- retrieve: include semantics of the 1.x SDK ---------------------------------------------------


def test_retrieve_without_include_returns_empty_relationships(client, uid):
    created = make_agent(client, f"inc-{uid}", tags=[f"tag-{uid}"])
    agent = client.agents.retrieve(created.id)
    assert agent.id == created.id
    assert agent.name == f"inc-{uid}"
    assert agent.system == created.system
    assert agent.blocks == []
    assert agent.memory is not None and agent.memory.blocks == []
    assert agent.tags == []
    # on the wire: present, and lists rather than null
    body = client.agents.with_raw_response.retrieve(created.id).http_response.json()
    assert body["blocks"] == []
    assert body["tags"] == []
    assert body["tools"] == []
    assert isinstance(body["memory"], dict) and body["memory"]["blocks"] == []


def test_retrieve_with_include_blocks_fills_blocks_and_tags(client, uid):
    created = make_agent(client, f"incb-{uid}", tags=[f"tag-{uid}", f"tag2-{uid}"])
    agent = client.agents.retrieve(created.id, include=["agent.blocks"])
    assert labels(agent.blocks) == ["human", "persona"]
    assert labels(agent.memory.blocks) == ["human", "persona"]
    assert [b.value for b in agent.blocks] == ["Name: Ada", "I am terse."]
    assert [b.id for b in agent.blocks] == [b.id for b in created.blocks]
    assert sorted(agent.tags) == sorted([f"tag-{uid}", f"tag2-{uid}"])


def test_retrieve_with_include_tags_fills_tags(client, uid):
    created = make_agent(client, f"inct-{uid}", tags=[f"tag-{uid}"])
    agent = client.agents.retrieve(created.id, include=["agent.tags"])
    assert agent.tags == [f"tag-{uid}"]


def test_list_honours_include(client, uid):
    created = make_agent(client, f"incl-{uid}", tags=[f"tag-{uid}"])
    [plain] = list(client.agents.list(name=created.name))
    assert plain.id == created.id
    assert plain.blocks == [] and plain.memory.blocks == [] and plain.tags == []
    [full] = list(client.agents.list(name=created.name, include=["agent.blocks"]))
    assert labels(full.blocks) == ["human", "persona"]
    assert full.tags == [f"tag-{uid}"]


# -- list: filters ---------------------------------------------------------------------------------


@pytest.fixture
def tagged_trio(client, uid):
    """Three agents sharing tag T; a has X, b has Y, c has X and Y."""
    t, x, y = f"t-{uid}", f"x-{uid}", f"y-{uid}"
    a = make_agent(client, f"trio-a-{uid}", tags=[t, x])
    b = make_agent(client, f"trio-b-{uid}", tags=[t, y])
    c = make_agent(client, f"trio-c-{uid}", tags=[t, x, y])
    return {"t": t, "x": x, "y": y, "a": a, "b": b, "c": c}


def _ids(page) -> set[str]:
    return {a.id for a in page}


def test_list_filter_by_name(client, tagged_trio):
    b = tagged_trio["b"]
    got = list(client.agents.list(name=b.name))
    assert [a.id for a in got] == [b.id]
    assert list(client.agents.list(name=b.name + "-nope")) == []


def test_list_filter_by_tags_any_and_all(client, tagged_trio):
    t = tagged_trio
    a, b, c = t["a"].id, t["b"].id, t["c"].id
    assert _ids(client.agents.list(tags=[t["t"]])) == {a, b, c}
    assert _ids(client.agents.list(tags=[t["x"]])) == {a, c}
    assert _ids(client.agents.list(tags=[t["x"], t["y"]])) == {a, b, c}
    assert _ids(client.agents.list(tags=[t["x"], t["y"]], match_all_tags=True)) == {c}
    assert _ids(client.agents.list(tags=[t["x"], t["y"]], match_all_tags=False)) == {a, b, c}
    assert _ids(client.agents.list(tags=[f"none-{t['t']}"])) == set()


def test_count_with_filters(http, tagged_trio):
    t = tagged_trio
    assert count_agents(http, tags=[t["t"]]) == 3
    assert count_agents(http, tags=[t["x"]]) == 2
    assert count_agents(http, tags=[t["x"], t["y"]]) == 3
    assert count_agents(http, tags=[t["x"], t["y"]], match_all_tags=True) == 1
    assert count_agents(http, name=t["a"].name) == 1
    assert count_agents(http, name=t["a"].name + "-nope") == 0


def test_list_query_text_is_case_insensitive_substring(client, http, uid):
    alpha = make_agent(client, f"zq{uid}-Alpha")
    beta = make_agent(client, f"zq{uid}-beta")
    assert _ids(client.agents.list(query_text=f"ZQ{uid.upper()}")) == {alpha.id, beta.id}
    assert _ids(client.agents.list(query_text=f"{uid}-alp")) == {alpha.id}
    assert _ids(client.agents.list(query_text=f"{uid.upper()}-BETA")) == {beta.id}
    assert _ids(client.agents.list(query_text=f"{uid}-gamma")) == set()
    assert count_agents(http, query_text=f"zq{uid}") == 2


# -- list: pagination ------------------------------------------------------------------------------


@pytest.fixture
def five_agents(client, uid):
    tag = f"page-{uid}"
    ids = []
    for i in range(5):
        ids.append(make_agent(client, f"page{i}-{uid}", tags=[tag], memory_blocks=[]).id)
        time.sleep(0.01)  # distinct created_at
    return tag, ids


def _list_ids(client, **kw) -> list[str]:
    page = client.agents.list(**kw)
    return [a.id for a in page.items]


def test_list_order(client, five_agents):
    tag, ids = five_agents
    assert _list_ids(client, tags=[tag], order="asc") == ids
    assert _list_ids(client, tags=[tag], order="desc") == ids[::-1]
    assert _list_ids(client, tags=[tag]) == ids[::-1], "default order for agents is desc"


def test_list_limit_after_before(client, five_agents):
    tag, ids = five_agents
    assert _list_ids(client, tags=[tag], order="asc", limit=2) == ids[:2]
    assert _list_ids(client, tags=[tag], order="desc", limit=2) == [ids[4], ids[3]]
    assert _list_ids(client, tags=[tag], order="asc", limit=2, after=ids[1]) == ids[2:4]
    assert _list_ids(client, tags=[tag], order="asc", after=ids[3]) == [ids[4]]
    assert _list_ids(client, tags=[tag], order="asc", after=ids[4]) == []
    assert _list_ids(client, tags=[tag], order="asc", before=ids[3]) == ids[:3]
    assert _list_ids(client, tags=[tag], order="desc", after=ids[3]) == [ids[2], ids[1], ids[0]]
    assert _list_ids(client, tags=[tag], order="desc", before=ids[1]) == [ids[4], ids[3], ids[2]]
    assert _list_ids(client, tags=[tag], order="asc", after=ids[0], before=ids[4]) == ids[1:4]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_auto_pagination_terminates_and_yields_each_once(client, five_agents, order):
    tag, ids = five_agents
    seen = []
    for agent in client.agents.list(tags=[tag], limit=2, order=order):
        seen.append(agent.id)
        assert len(seen) <= 20, f"auto-pagination does not terminate: {seen}"
    assert seen == (ids if order == "asc" else ids[::-1])


def test_auto_pagination_default_order(client, five_agents):
    tag, ids = five_agents
    seen = []
    for agent in client.agents.list(tags=[tag], limit=2):
        seen.append(agent.id)
        assert len(seen) <= 20, f"auto-pagination does not terminate: {seen}"
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


# -- update ----------------------------------------------------------------------------------------


def test_update_fields(client, uid):
    agent = make_agent(client, f"upd-{uid}", description="before", tags=[f"a-{uid}", f"b-{uid}"], metadata={"v": 1})
    updated = client.agents.update(
        agent.id,
        name=f"upd2-{uid}",
        description="after",
        tags=[f"c-{uid}"],
        metadata={"v": 2, "extra": "yes"},
    )
    assert updated.id == agent.id
    assert updated.name == f"upd2-{uid}"
    assert updated.description == "after"
    assert updated.tags == [f"c-{uid}"]
    assert updated.metadata == {"v": 2, "extra": "yes"}
    # PATCH returns the full state even without include
    assert labels(updated.blocks) == ["human", "persona"]

    got = client.agents.retrieve(agent.id, include=["agent.blocks"])
    assert got.name == f"upd2-{uid}"
    assert got.description == "after"
    assert got.tags == [f"c-{uid}"]
    assert got.metadata == {"v": 2, "extra": "yes"}
    assert labels(got.blocks) == ["human", "persona"]
    assert list(client.agents.list(tags=[f"a-{uid}"])) == []
    assert [a.id for a in client.agents.list(tags=[f"c-{uid}"])] == [agent.id]


def test_update_absent_and_null_fields_leave_state_unchanged(client, uid):
    agent = make_agent(client, f"keep-{uid}", description="desc", tags=[f"k-{uid}"], metadata={"m": 1})
    after = client.agents.update(agent.id, description="desc2")
    assert after.name == agent.name
    assert after.tags == [f"k-{uid}"]
    assert after.metadata == {"m": 1}
    assert after.system == agent.system
    assert [b.id for b in after.blocks] == [b.id for b in agent.blocks]

    # explicit JSON nulls mean "unchanged" as well
    after = client.agents.update(agent.id, name=None, tags=None, metadata=None, description=None, block_ids=None)
    assert after.name == agent.name
    assert after.description == "desc2"
    assert after.tags == [f"k-{uid}"]
    assert after.metadata == {"m": 1}
    assert [b.id for b in after.blocks] == [b.id for b in agent.blocks]

    got = client.agents.retrieve(agent.id, include=["agent.blocks"])
    assert (got.name, got.description, got.tags, got.metadata) == (agent.name, "desc2", [f"k-{uid}"], {"m": 1})


def test_update_block_ids_replaces_attached_blocks(client, uid):
    agent = make_agent(client, f"bids-{uid}")
    b1 = client.blocks.create(label=f"one_{uid}", value="first")
    b2 = client.blocks.create(label=f"two_{uid}", value="second")

    updated = client.agents.update(agent.id, block_ids=[b1.id])
    assert [b.id for b in updated.blocks] == [b1.id]
    assert [b.id for b in updated.memory.blocks] == [b1.id]
    assert [b.id for b in client.agents.blocks.list(agent.id)] == [b1.id]

    updated = client.agents.update(agent.id, block_ids=[b1.id, b2.id])
    assert sorted(b.id for b in updated.blocks) == sorted([b1.id, b2.id])
    got = client.agents.retrieve(agent.id, include=["agent.blocks"])
    assert sorted(b.id for b in got.blocks) == sorted([b1.id, b2.id])
    assert by_label(got.blocks)[f"two_{uid}"].value == "second"

    updated = client.agents.update(agent.id, block_ids=[])
    assert updated.blocks == []
    # the standalone blocks themselves survive being detached
    assert client.blocks.retrieve(b1.id).value == "first"


# -- delete ----------------------------------------------------------------------------------------


def test_delete_agent(client, http, uid):
    agent = make_agent(client, f"del-{uid}")
    client.agents.delete(agent.id)
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.agents.retrieve(agent.id)
    assert_error_body(ei.value, 404)
    assert list(client.agents.list(name=agent.name)) == []
    assert count_agents(http, name=agent.name) == 0
    with pytest.raises(letta_client.NotFoundError):
        client.agents.delete(agent.id)
    with pytest.raises(letta_client.NotFoundError):
        client.agents.update(agent.id, name="ghost")
