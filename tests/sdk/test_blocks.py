"""Blocks through letta-client 1.12.1: standalone CRUD, agent label routes, attach/detach,
shared blocks, label conflicts and character limits."""

from __future__ import annotations

import letta_client
import pytest

from _helpers import (
    HUMAN,
    MODEL,
    assert_error_body,
    assert_id,
    by_label,
    count_agents,
    labels,
    make_agent,
)


# -- standalone blocks -----------------------------------------------------------------------------


def test_create_and_retrieve_block(client, uid):
    block = client.blocks.create(
        label=f"notes_{uid}", value="hello world", limit=500, description="scratch notes", metadata={"k": "v"}
    )
    assert_id(block.id, "block")
    assert block.label == f"notes_{uid}"
    assert block.value == "hello world"
    assert block.limit == 500
    assert block.description == "scratch notes"
    assert block.metadata == {"k": "v"}

    got = client.blocks.retrieve(block.id)
    assert (got.id, got.label, got.value, got.limit, got.description, got.metadata) == (
        block.id,
        f"notes_{uid}",
        "hello world",
        500,
        "scratch notes",
        {"k": "v"},
    )


def test_create_block_default_limit_fits_value(client, uid):
    block = client.blocks.create(label=f"dflt_{uid}", value="v" * 1000)
    assert isinstance(block.limit, int) and block.limit >= 1000
    assert client.blocks.retrieve(block.id).value == "v" * 1000


def test_list_blocks_filters(client, uid):
    a = client.blocks.create(label=f"x{uid}_lsa", value=f"apples and {uid} pears")
    b = client.blocks.create(label=f"x{uid}_lsb", value=f"only {uid} plums")
    c = client.blocks.create(label=f"x{uid}_other", value=f"nothing to see {uid}")

    assert [x.id for x in client.blocks.list(label=f"x{uid}_lsa")] == [a.id]
    assert [x.id for x in client.blocks.list(label=f"x{uid}_lsb")] == [b.id]
    assert list(client.blocks.list(label=f"x{uid}_missing")) == []
    assert list(client.blocks.list(label=f"x{uid}")) == [], "label is an exact match"

    assert {x.id for x in client.blocks.list(value_search=f"{uid} p")} == {a.id, b.id}
    assert [x.id for x in client.blocks.list(value_search=f"{uid} plums")] == [b.id]
    assert [x.id for x in client.blocks.list(value_search=f"ONLY {uid.upper()} PLUMS")] == [b.id]
    assert list(client.blocks.list(value_search=f"{uid} cherries")) == []

    assert {x.id for x in client.blocks.list(label_search=f"{uid}_ls")} == {a.id, b.id}
    assert [x.id for x in client.blocks.list(label_search=f"{uid}_oth")] == [c.id]
    assert {x.id for x in client.blocks.list(label_search=uid)} == {a.id, b.id, c.id}
    assert {x.id for x in client.blocks.list(label_search=uid, value_search="plums")} == {b.id}


def test_list_blocks_pagination(client, uid):
    ids = [client.blocks.create(label=f"pg_{uid}", value=str(i)).id for i in range(4)]
    page = client.blocks.list(label=f"pg_{uid}")
    assert [x.id for x in page.items] == ids, "default block order is asc (creation order)"
    assert [x.id for x in client.blocks.list(label=f"pg_{uid}", order="desc").items] == ids[::-1]
    assert [x.id for x in client.blocks.list(label=f"pg_{uid}", limit=2).items] == ids[:2]
    assert [x.id for x in client.blocks.list(label=f"pg_{uid}", after=ids[1]).items] == ids[2:]
    seen = []
    for blk in client.blocks.list(label=f"pg_{uid}", limit=3):
        seen.append(blk.id)
        assert len(seen) <= 20, "auto-pagination does not terminate"
    assert seen == ids


def test_update_block(client, uid):
    block = client.blocks.create(label=f"upd_{uid}", value="v1", limit=100, description="d1")
    upd = client.blocks.update(block.id, value="v2")
    assert (upd.id, upd.label, upd.value, upd.limit, upd.description) == (block.id, f"upd_{uid}", "v2", 100, "d1")

    upd = client.blocks.update(block.id, description="d2", limit=200, label=f"upd2_{uid}")
    assert (upd.label, upd.value, upd.limit, upd.description) == (f"upd2_{uid}", "v2", 200, "d2")

    # null means unchanged
    upd = client.blocks.update(block.id, value=None, description=None, limit=None)
    assert (upd.label, upd.value, upd.limit, upd.description) == (f"upd2_{uid}", "v2", 200, "d2")

    got = client.blocks.retrieve(block.id)
    assert (got.label, got.value, got.limit, got.description) == (f"upd2_{uid}", "v2", 200, "d2")


def test_delete_block(client, uid):
    block = client.blocks.create(label=f"del_{uid}", value="bye")
    client.blocks.delete(block.id)
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.blocks.retrieve(block.id)
    assert_error_body(ei.value, 404)
    assert list(client.blocks.list(label=f"del_{uid}")) == []
    with pytest.raises(letta_client.NotFoundError):
        client.blocks.delete(block.id)
    with pytest.raises(letta_client.NotFoundError):
        client.blocks.update(block.id, value="x")


def test_deleting_attached_block_detaches_it(client, uid):
    block = client.blocks.create(label=f"gone_{uid}", value="soon gone")
    agent = make_agent(client, f"gone-{uid}", block_ids=[block.id])
    assert f"gone_{uid}" in labels(agent.blocks)
    client.blocks.delete(block.id)
    assert sorted(labels(client.agents.blocks.list(agent.id))) == ["human", "persona"]
    got = client.agents.retrieve(agent.id, include=["agent.blocks"])
    assert labels(got.blocks) == ["human", "persona"]


# -- agent label routes ----------------------------------------------------------------------------


def test_agent_block_routes(client, uid):
    agent = make_agent(client, f"lbl-{uid}")
    listed = list(client.agents.blocks.list(agent.id))
    assert sorted(labels(listed)) == ["human", "persona"]
    assert {b.id for b in listed} == {b.id for b in agent.blocks}

    human = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert human.label == "human"
    assert human.value == "Name: Ada"
    assert human.id == by_label(agent.blocks)["human"].id

    upd = client.agents.blocks.update("human", agent_id=agent.id, value="Name: Grace")
    assert upd.id == human.id
    assert upd.value == "Name: Grace"
    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Grace"
    # it is the same block row
    assert client.blocks.retrieve(human.id).value == "Name: Grace"
    got = client.agents.retrieve(agent.id, include=["agent.blocks"])
    assert by_label(got.blocks)["human"].value == "Name: Grace"
    assert by_label(got.memory.blocks)["human"].value == "Name: Grace"
    # persona untouched
    assert client.agents.blocks.retrieve("persona", agent_id=agent.id).value == "I am terse."

    with pytest.raises(letta_client.NotFoundError) as ei:
        client.agents.blocks.retrieve(f"nolabel_{uid}", agent_id=agent.id)
    assert_error_body(ei.value, 404)
    with pytest.raises(letta_client.NotFoundError):
        client.agents.blocks.update(f"nolabel_{uid}", agent_id=agent.id, value="x")


def test_attach_and_detach(client, uid):
    agent = make_agent(client, f"att-{uid}")
    block = client.blocks.create(label=f"extra_{uid}", value="attached value")

    state = client.agents.blocks.attach(block.id, agent_id=agent.id)
    assert state.id == agent.id
    # attach returns the full state without include
    assert sorted(labels(state.blocks)) == sorted(["human", "persona", f"extra_{uid}"])
    assert sorted(labels(state.memory.blocks)) == sorted(["human", "persona", f"extra_{uid}"])
    assert block.id in {b.id for b in client.agents.blocks.list(agent.id)}
    assert client.agents.blocks.retrieve(f"extra_{uid}", agent_id=agent.id).value == "attached value"
    assert [a.id for a in client.blocks.agents.list(block.id)] == [agent.id]

    state = client.agents.blocks.detach(block.id, agent_id=agent.id)
    assert sorted(labels(state.blocks)) == ["human", "persona"]
    assert block.id not in {b.id for b in client.agents.blocks.list(agent.id)}
    assert list(client.blocks.agents.list(block.id)) == []
    with pytest.raises(letta_client.NotFoundError):
        client.agents.blocks.retrieve(f"extra_{uid}", agent_id=agent.id)
    # the block itself lives on
    assert client.blocks.retrieve(block.id).value == "attached value"


def test_shared_block_between_two_agents(client, uid):
    shared = client.blocks.create(label=f"team_{uid}", value="Project: apollo", description="shared")
    a = make_agent(client, f"share-a-{uid}", block_ids=[shared.id])
    b = make_agent(client, f"share-b-{uid}")
    assert f"team_{uid}" in labels(a.blocks)
    assert by_label(a.blocks)[f"team_{uid}"].id == shared.id

    state = client.agents.blocks.attach(shared.id, agent_id=b.id)
    assert by_label(state.blocks)[f"team_{uid}"].id == shared.id

    upd = client.agents.blocks.update(f"team_{uid}", agent_id=a.id, value="Project: gemini")
    assert upd.id == shared.id and upd.value == "Project: gemini"

    assert client.agents.blocks.retrieve(f"team_{uid}", agent_id=b.id).value == "Project: gemini"
    got_b = client.agents.retrieve(b.id, include=["agent.blocks"])
    assert by_label(got_b.blocks)[f"team_{uid}"].value == "Project: gemini"
    assert by_label(got_b.memory.blocks)[f"team_{uid}"].id == shared.id
    assert client.blocks.retrieve(shared.id).value == "Project: gemini"

    assert {x.id for x in client.blocks.agents.list(shared.id)} == {a.id, b.id}
    assert [x.id for x in client.blocks.list(label=f"team_{uid}")] == [shared.id]

    # each agent keeps its own human/persona blocks
    assert by_label(got_b.blocks)["human"].id != by_label(a.blocks)["human"].id

    # deleting one agent leaves the shared block attached to the other
    client.agents.delete(a.id)
    assert client.blocks.retrieve(shared.id).value == "Project: gemini"
    assert [x.id for x in client.blocks.agents.list(shared.id)] == [b.id]


def test_attach_duplicate_label_conflicts(client, uid):
    agent = make_agent(client, f"dup-{uid}")
    other_human = client.blocks.create(label="human", value=f"Name: Other {uid}")
    with pytest.raises(letta_client.ConflictError) as ei:
        client.agents.blocks.attach(other_human.id, agent_id=agent.id)
    assert_error_body(ei.value, 409)
    listed = list(client.agents.blocks.list(agent.id))
    assert sorted(labels(listed)) == ["human", "persona"]
    assert by_label(listed)["human"].value == "Name: Ada"
    assert list(client.blocks.agents.list(other_human.id)) == []


def test_attach_same_block_twice_is_harmless(client, uid):
    agent = make_agent(client, f"twice-{uid}")
    block = client.blocks.create(label=f"once_{uid}", value="v")
    client.agents.blocks.attach(block.id, agent_id=agent.id)
    try:
        client.agents.blocks.attach(block.id, agent_id=agent.id)
    except letta_client.ConflictError:
        pass  # also acceptable: a conflict, as long as nothing is duplicated
    listed = labels(client.agents.blocks.list(agent.id))
    assert listed.count(f"once_{uid}") == 1


# -- character limits ------------------------------------------------------------------------------


def test_create_block_over_limit_is_rejected(client, uid):
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.blocks.create(label=f"big_{uid}", value="x" * 11, limit=10)
    assert_error_body(ei.value, 422)
    assert list(client.blocks.list(label=f"big_{uid}")) == []
    # exactly at the limit is fine
    ok = client.blocks.create(label=f"big_{uid}", value="x" * 10, limit=10)
    assert ok.value == "x" * 10


def test_update_block_over_limit_is_rejected(client, uid):
    block = client.blocks.create(label=f"lim_{uid}", value="short", limit=10)
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.blocks.update(block.id, value="y" * 11)
    assert_error_body(ei.value, 422)
    assert client.blocks.retrieve(block.id).value == "short"

    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.blocks.update(block.id, limit=3)
    assert_error_body(ei.value, 422)
    got = client.blocks.retrieve(block.id)
    assert (got.value, got.limit) == ("short", 10)

    # raising the limit together with a longer value is fine
    upd = client.blocks.update(block.id, value="z" * 20, limit=30)
    assert (upd.value, upd.limit) == ("z" * 20, 30)
    # lowering the limit to exactly the value length is fine
    assert client.blocks.update(block.id, limit=20).limit == 20


def test_agent_label_update_over_limit_is_rejected(client, uid):
    agent = make_agent(
        client,
        f"alim-{uid}",
        memory_blocks=[{"label": "human", "value": "Name: Ada", "limit": 20}, {"label": "persona", "value": "p"}],
    )
    assert by_label(agent.blocks)["human"].limit == 20
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.agents.blocks.update("human", agent_id=agent.id, value="n" * 21)
    assert_error_body(ei.value, 422)
    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Ada"

    with pytest.raises(letta_client.UnprocessableEntityError):
        client.agents.blocks.update("human", agent_id=agent.id, limit=4)
    got = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert (got.value, got.limit) == ("Name: Ada", 20)

    assert client.agents.blocks.update("human", agent_id=agent.id, value="n" * 20).value == "n" * 20


def test_create_agent_with_oversized_memory_block_creates_nothing(client, http, uid):
    name = f"toolong-{uid}"
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.agents.create(
            name=name,
            model=MODEL,
            memory_blocks=[
                {"label": f"ok_{uid}", "value": "fine"},
                {"label": f"h_{uid}", "value": "x" * 20, "limit": 10},
            ],
        )
    assert_error_body(ei.value, 422)
    assert count_agents(http, name=name) == 0
    assert list(client.agents.list(name=name)) == []
    assert list(client.blocks.list(label=f"h_{uid}")) == []
    assert list(client.blocks.list(label=f"ok_{uid}")) == []


def test_create_agent_memory_block_limit_is_kept(client, uid):
    agent = make_agent(
        client,
        f"keeplim-{uid}",
        memory_blocks=[dict(HUMAN, limit=1234, description="who the user is"), {"label": "persona", "value": "p"}],
    )
    human = by_label(agent.blocks)["human"]
    assert human.limit == 1234
    assert human.description == "who the user is"
    assert client.blocks.retrieve(human.id).limit == 1234
