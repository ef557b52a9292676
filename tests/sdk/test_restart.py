"""Durability: state written through the SDK survives a SIGTERM + restart on the same data dir."""

from __future__ import annotations

import letta_client
import pytest

from _helpers import MODEL, by_label, count_agents, labels


def test_state_survives_restart(server_factory, tmp_path, uid):
    data_dir = tmp_path / "mneme-data"
    srv = server_factory(data_dir)
    first_addr = srv.addr
    assert first_addr and not first_addr.endswith(":0")
    client = srv.client()

    shared = client.blocks.create(label=f"shared_{uid}", value="shared value", limit=300, description="kept")
    standalone = client.blocks.create(label=f"alone_{uid}", value="nobody's", metadata={"x": 1})
    agent = client.agents.create(
        name=f"durable-{uid}",
        description="survives restarts",
        model=MODEL,
        memory_blocks=[
            {"label": "human", "value": "Name: Ada", "limit": 500},
            {"label": "persona", "value": "I am terse."},
        ],
        block_ids=[shared.id],
        tags=[f"keep-{uid}", "durable"],
        metadata={"k": "v"},
    )
    other = client.agents.create(name=f"durable2-{uid}", model=MODEL, memory_blocks=[], block_ids=[shared.id])
    client.agents.blocks.update("human", agent_id=agent.id, value="Name: Ada Lovelace")
    deleted = client.agents.create(name=f"deleted-{uid}", model=MODEL, memory_blocks=[])
    client.agents.delete(deleted.id)
    before = client.agents.retrieve(agent.id, include=["agent.blocks"])
    client.close()

    assert srv.stop() is not None
    assert not srv.running
    srv.start()
    client = srv.client()

    after = client.agents.retrieve(agent.id, include=["agent.blocks"])
    assert after.id == agent.id
    assert after.name == f"durable-{uid}"
    assert after.description == "survives restarts"
    assert sorted(after.tags) == sorted([f"keep-{uid}", "durable"])
    assert after.metadata == {"k": "v"}
    assert after.system == before.system
    assert after.agent_type == before.agent_type
    assert after.model == MODEL
    assert after.llm_config.model == "gpt-4o-mini"
    assert after.message_ids == before.message_ids
    assert after.created_at == before.created_at
    assert sorted(labels(after.blocks)) == sorted(["human", "persona", f"shared_{uid}"])
    assert {b.id for b in after.blocks} == {b.id for b in before.blocks}
    blocks = by_label(after.blocks)
    assert blocks["human"].value == "Name: Ada Lovelace"
    assert blocks["human"].limit == 500
    assert blocks["persona"].value == "I am terse."
    assert blocks[f"shared_{uid}"].id == shared.id

    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Ada Lovelace"
    assert {a.id for a in client.blocks.agents.list(shared.id)} == {agent.id, other.id}
    got_shared = client.blocks.retrieve(shared.id)
    assert (got_shared.value, got_shared.limit, got_shared.description) == ("shared value", 300, "kept")
    got_alone = client.blocks.retrieve(standalone.id)
    assert (got_alone.label, got_alone.value, got_alone.metadata) == (f"alone_{uid}", "nobody's", {"x": 1})
    assert list(client.blocks.agents.list(standalone.id)) == []

    assert [a.id for a in client.agents.list(tags=[f"keep-{uid}"])] == [agent.id]
    with srv.http() as http:
        assert count_agents(http, name=f"durable-{uid}") == 1
        assert count_agents(http, name=f"deleted-{uid}") == 0
    with pytest.raises(letta_client.NotFoundError):
        client.agents.retrieve(deleted.id)

    # still writable after the restart, and the new write survives a second restart
    client.agents.update(agent.id, name=f"renamed-{uid}")
    client.close()
    srv.restart()
    client = srv.client()
    assert client.agents.retrieve(agent.id).name == f"renamed-{uid}"
    client.close()


def test_sigterm_exits_cleanly(server_factory, tmp_path):
    srv = server_factory(tmp_path / "d")
    with srv.http() as http:
        assert http.get("/v1/health/").status_code == 200
    code = srv.stop()
    assert code == 0, f"mneme exited with {code} on SIGTERM\n{srv.log_tail()}"


def test_conversation_survives_restart(server_factory, fake, tmp_path, uid):
    srv = server_factory(tmp_path / "conv")
    client = srv.client()
    agent = client.agents.create(
        name=f"chatty-{uid}", model=MODEL, memory_blocks=[{"label": "human", "value": "Name: Ada"}]
    )
    fake.push(
        {"tool_calls": [{"name": "memory_replace", "arguments": {"label": "human", "old_string": "Ada", "new_string": "Ada L."}}]},
        {"text": "Hello Ada."},
    )
    first = client.agents.messages.create(agent_id=agent.id, input=f"I am Ada {uid}")
    assert [m.content for m in first.messages if m.message_type == "assistant_message"] == ["Hello Ada."]
    before = list(client.agents.messages.list(agent.id, order="asc"))
    assert [m.message_type for m in before] == [
        "system_message", "user_message", "tool_call_message", "tool_return_message", "assistant_message"
    ]
    run_id = first.messages[0].run_id
    client.close()

    srv.restart()
    client = srv.client()

    after = list(client.agents.messages.list(agent.id, order="asc"))
    assert [m.id for m in after] == [m.id for m in before]
    assert [m.message_type for m in after] == [m.message_type for m in before]
    assert after[1].content == f"I am Ada {uid}"
    assert after[-1].content == "Hello Ada."
    assert "Ada L." in after[0].content
    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Ada L."
    assert client.runs.retrieve(run_id).status == "completed"

    # the agent answers with its history in context
    second = client.agents.messages.create(agent_id=agent.id, input="still there?")
    assert [m.content for m in second.messages if m.message_type == "assistant_message"] == ["echo: still there?"]
    last = fake.requests()[-1]
    contents = [m.get("content") for m in last["messages"]]
    assert f"I am Ada {uid}" in contents and "Hello Ada." in contents, contents
    assert "Name: Ada L." in contents[0]
    client.close()
