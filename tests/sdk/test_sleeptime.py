"""Sleep-time agents through letta-client 1.12.1: `enable_sleeptime` gives an agent a companion
that shares its memory blocks and, every `sleeptime_agent_frequency` turns, reads the new part of
the conversation in a background run and edits the shared blocks.

The companion's model calls are told apart from the primary's by its `memory_persona` block,
which only the companion's system prompt holds.
"""

from __future__ import annotations

import letta_client
import pytest

from _helpers import by_label, llm_messages, llm_text, make_agent, wait_for_run

# Text of the companion's `memory_persona` block (so in its system prompt only).
COMPANION = "I manage the memory of another agent"


def sleeptime_agent(client, name: str, **kwargs):
    return make_agent(client, name, enable_sleeptime=True, **kwargs)


def companion_of(client, agent) -> tuple[str, str]:
    """The agent's sleep-time group id and its companion's id."""
    group = client.agents.retrieve(agent.id, include=["agent.managed_group"]).managed_group
    assert group is not None and group.manager_type == "sleeptime"
    assert group.manager_agent_id == agent.id and len(group.agent_ids) == 1
    return group.id, group.agent_ids[0]


def companion_edits(fake, label: str, text: str, delay_ms: int = 0) -> None:
    """The companion's next run inserts `text` into block `label`, then finishes its edits."""
    insert = {"tool_calls": [{"name": "memory_insert", "arguments": {"label": label, "new_string": text}}]}
    if delay_ms:
        insert["delay_ms"] = delay_ms
    fake.system_rule(COMPANION, insert, times=1)
    fake.system_rule(COMPANION, {"tool_calls": [{"name": "memory_finish_edits", "arguments": {}}]}, times=1)


def companion_requests(fake) -> list[dict]:
    return [r for r in fake.requests() if any(COMPANION in llm_text(m) for m in llm_messages(r, "system"))]


def test_enable_sleeptime_gives_the_agent_a_companion_sharing_its_blocks(client, uid):
    agent = sleeptime_agent(client, f"sleepy-{uid}")
    assert agent.enable_sleeptime is True
    tools = {t.name for t in agent.tools}
    # The companion edits memory; the primary only searches (and gets no `send_message`: it is
    # a letta_v1_agent, answering in plain text).
    assert {"conversation_search", "archival_memory_search"} <= tools
    assert not tools & {"memory_insert", "memory_replace", "core_memory_append", "send_message"}
    assert agent.multi_agent_group is not None and agent.multi_agent_group.manager_type == "sleeptime"
    assert agent.multi_agent_group.sleeptime_agent_frequency == 5

    _, companion_id = companion_of(client, agent)
    companion = client.agents.retrieve(companion_id, include=["agent.tools", "agent.blocks"])
    assert companion.name == f"sleepy-{uid}-sleeptime" and companion.agent_type == "sleeptime_agent"
    assert {"memory_rethink", "memory_finish_edits", "memory_replace", "memory_insert"} <= {
        t.name for t in companion.tools
    }
    assert any(r.type == "exit_loop" and r.tool_name == "memory_finish_edits" for r in companion.tool_rules)
    assert companion.llm_config.model == agent.llm_config.model
    blocks = by_label(companion.memory.blocks)
    assert set(blocks) == {"human", "persona", "memory_persona"}
    human = by_label(agent.memory.blocks)["human"]
    assert blocks["human"].id == human.id
    sharing = {a.id for a in client.blocks.agents.list(block_id=human.id).items}
    assert sharing == {agent.id, companion_id}

    # A block attached to the primary later is the companion's too, and leaves with it.
    extra = client.blocks.create(label="preferences", value="Prefers tea.")
    client.agents.blocks.attach(agent_id=agent.id, block_id=extra.id)
    assert extra.id in {b.id for b in client.agents.blocks.list(agent_id=companion_id)}
    client.agents.blocks.detach(agent_id=agent.id, block_id=extra.id)
    assert extra.id not in {b.id for b in client.agents.blocks.list(agent_id=companion_id)}


def test_the_companion_reads_new_turns_in_the_background_and_edits_shared_memory(client, fake, uid):
    agent = sleeptime_agent(client, f"sleepy-run-{uid}")
    _, companion_id = companion_of(client, agent)
    # The companion's model is slow: the primary's answer must not wait for it.
    companion_edits(fake, "human", "Favourite colour: coral.", delay_ms=1500)

    first = client.agents.messages.create(agent_id=agent.id, input="my favourite colour is coral")
    # The first turn is due (the counter starts at -1): its run is named in the answer, and is
    # listed among the companion's runs while it still waits for its slow model.
    assert first.usage.run_ids is not None and len(first.usage.run_ids) == 1
    run_id = first.usage.run_ids[0]
    run = client.runs.retrieve(run_id)
    assert run.agent_id == companion_id and run.status in ("created", "running")
    assert run.metadata["run_type"] == "sleeptime_agent_send_message_async"
    assert run_id in {r.id for r in client.runs.list(agent_id=companion_id)}

    assert wait_for_run(client, run_id).status == "completed"
    read = companion_requests(fake)[0]
    said = llm_text(llm_messages(read, "user")[-1])
    assert "user: my favourite colour is coral" in said and "<system-reminder>" in said

    # The edit is in the shared block, and in the primary's next prompt.
    human = client.agents.blocks.retrieve(agent_id=agent.id, block_label="human")
    assert "Favourite colour: coral." in human.value
    fake.text("Noted.")
    nxt = client.agents.messages.create(agent_id=agent.id, input="what do you know?")
    assert nxt.usage.run_ids is None
    primary_prompt = llm_text(llm_messages(fake.requests()[-1], "system")[0])
    assert "Favourite colour: coral." in primary_prompt


def test_companions_run_every_frequency_turns_on_what_is_new(client, fake, uid):
    agent = sleeptime_agent(client, f"sleepy-freq-{uid}")
    _, companion_id = companion_of(client, agent)
    fake.system_rule(COMPANION, {"tool_calls": [{"name": "memory_finish_edits", "arguments": {}}]})
    started = []
    for i in range(6):
        res = client.agents.messages.create(agent_id=agent.id, input=f"message number {i}")
        started.append(len(res.usage.run_ids or []))
    # Turns 1 and 6 with the default frequency of 5.
    assert started == [1, 0, 0, 0, 0, 1]
    runs = client.runs.list(agent_id=companion_id).items
    assert len(runs) == 2
    for run in runs:
        assert wait_for_run(client, run.id).status == "completed"
    reads = [llm_text(llm_messages(r, "user")[-1]) for r in companion_requests(fake)]
    assert len(reads) == 2
    # The second run reads only what came after the first one.
    assert "message number 0" in reads[0] and "message number 1" not in reads[0]
    assert "message number 0" not in reads[1]
    assert all(f"message number {i}" in reads[1] for i in range(1, 6))


def test_a_failing_companion_never_affects_its_primary(client, fake, uid):
    agent = sleeptime_agent(client, f"sleepy-fail-{uid}")
    fake.system_rule(COMPANION, {"error": {"status": 500}})
    fake.text("All good.")
    res = client.agents.messages.create(agent_id=agent.id, input="hello")
    assert res.stop_reason.stop_reason == "end_turn"
    assert [m.content for m in res.messages if m.message_type == "assistant_message"] == ["All good."]
    run = wait_for_run(client, res.usage.run_ids[0])
    assert run.status == "failed"
    fake.text("Still good.")
    again = client.agents.messages.create(agent_id=agent.id, input="still there?")
    assert again.stop_reason.stop_reason == "end_turn"


def test_streamed_turns_start_companions_too(client, fake, uid):
    agent = sleeptime_agent(client, f"sleepy-stream-{uid}")
    _, companion_id = companion_of(client, agent)
    fake.system_rule(COMPANION, {"tool_calls": [{"name": "memory_finish_edits", "arguments": {}}]})
    stream = client.agents.messages.create(
        agent_id=agent.id, messages=[{"role": "user", "content": "streamed hello"}], streaming=True
    )
    with stream:
        chunks = list(stream)
    usage = [c for c in chunks if c.message_type == "usage_statistics"]
    assert len(usage) == 1 and usage[0].run_ids and len(usage[0].run_ids) == 1
    assert wait_for_run(client, usage[0].run_ids[0]).status == "completed"
    assert len(client.runs.list(agent_id=companion_id).items) == 1


def test_turning_sleeptime_off_and_on_and_deleting_the_primary(client, uid):
    agent = sleeptime_agent(client, f"sleepy-toggle-{uid}")
    group_id, companion_id = companion_of(client, agent)

    off = client.agents.update(agent.id, enable_sleeptime=False)
    assert off.enable_sleeptime is False and off.managed_group is None
    with pytest.raises(letta_client.NotFoundError):
        client.agents.retrieve(companion_id)

    on = client.agents.update(agent.id, enable_sleeptime=True)
    assert on.enable_sleeptime is True
    new_group, new_companion = companion_of(client, on)
    assert new_group != group_id and new_companion != companion_id
    companion = client.agents.retrieve(new_companion, include=["agent.blocks"])
    assert {"human", "persona", "memory_persona"} == {b.label for b in companion.memory.blocks}

    client.agents.delete(agent.id)
    with pytest.raises(letta_client.NotFoundError):
        client.agents.retrieve(new_companion)


def test_a_memgpt_primary_keeps_send_message_and_sends_a_bare_transcript(client, fake, uid):
    agent = sleeptime_agent(client, f"sleepy-v2-{uid}", agent_type="memgpt_v2_agent")
    assert {"send_message", "conversation_search", "archival_memory_search"} == {t.name for t in agent.tools}
    fake.system_rule(COMPANION, {"tool_calls": [{"name": "memory_finish_edits", "arguments": {}}]})
    fake.tool_call("send_message", {"message": "Hi there"})
    res = client.agents.messages.create(agent_id=agent.id, input="hello v2")
    assert wait_for_run(client, res.usage.run_ids[0]).status == "completed"
    (read,) = companion_requests(fake)
    said = llm_text(llm_messages(read, "user")[-1])
    assert said.startswith("user: hello v2") and "assistant: Hi there" in said
    assert "<system-reminder>" not in said


def test_the_group_route_changes_the_frequency(client, http, fake, uid):
    """Letta's own sleep-time test: the frequency set through `PATCH /v1/groups/{id}` (not in
    the 1.x SDK) applies from the next turn; every run is listed among the companion's."""
    agent = sleeptime_agent(client, f"sleepy-group-{uid}")
    group_id, companion_id = companion_of(client, agent)
    r = http.patch(
        f"/v1/groups/{group_id}",
        json={"manager_config": {"manager_type": "sleeptime", "sleeptime_agent_frequency": 2}},
    )
    assert r.status_code == 200, r.text
    group = r.json()
    assert (group["manager_type"], group["sleeptime_agent_frequency"]) == ("sleeptime", 2)
    assert group["agent_ids"] == [companion_id]

    fake.system_rule(COMPANION, {"tool_calls": [{"name": "memory_finish_edits", "arguments": {}}]})
    run_ids = []
    for i in range(4):
        res = client.agents.messages.create(agent_id=agent.id, input=f"turn {i}")
        assert len(res.usage.run_ids or []) == (i + 1) % 2
        run_ids.extend(res.usage.run_ids or [])
        assert len(client.runs.list(agent_id=companion_id).items) == len(run_ids)
    for run_id in run_ids:
        assert wait_for_run(client, run_id).status == "completed"
