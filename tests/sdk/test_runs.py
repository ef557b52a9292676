"""Runs of blocking turns: `client.runs.*` after `POST /v1/agents/{id}/messages`."""

from __future__ import annotations

import letta_client
import pytest

from _helpers import assert_error_body, assert_id, make_agent, random_id, types


def test_run_of_a_turn_is_completed_with_steps_and_messages(client, fake, uid):
    agent = make_agent(client, f"runs-{uid}")
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "nothing"}}]},
        {"text": "All done."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="do two steps")
    run_ids = {m.run_id for m in resp.messages}
    assert len(run_ids) == 1
    run_id = run_ids.pop()
    assert_id(run_id, "run")

    run = client.runs.retrieve(run_id)
    assert run.id == run_id
    assert run.agent_id == agent.id
    assert run.status == "completed"
    assert run.stop_reason == "end_turn"
    assert run.created_at is not None and run.completed_at is not None
    assert run.completed_at >= run.created_at
    assert [r.id for r in client.runs.list(agent_ids=[agent.id])] == [run_id]
    assert [r.id for r in client.runs.list(agent_id=agent.id)] == [run_id]

    steps = list(client.runs.steps.list(run_id, order="asc"))
    assert len(steps) == resp.usage.step_count == 2
    for step in steps:
        assert_id(step.id, "step")
        assert step.run_id == run_id
        assert step.agent_id == agent.id
        assert step.status == "success"
        assert step.prompt_tokens and step.prompt_tokens > 0
    assert [s.id for s in steps] == list(dict.fromkeys(m.step_id for m in resp.messages))
    assert sum(s.prompt_tokens for s in steps) == resp.usage.prompt_tokens
    assert sum(s.completion_tokens for s in steps) == resp.usage.completion_tokens

    msgs = list(client.runs.messages.list(run_id))
    assert types(msgs) == ["user_message", "tool_call_message", "tool_return_message", "assistant_message"]
    assert [m.id for m in msgs[1:]] == [m.id for m in resp.messages]
    assert all(m.run_id == run_id for m in msgs)

    usage = client.runs.usage.retrieve(run_id)
    assert usage.step_count == 2
    assert usage.total_tokens == resp.usage.total_tokens


def test_each_turn_is_its_own_run(client, fake, uid):
    agent = make_agent(client, f"runs2-{uid}")
    r1 = client.agents.messages.create(agent_id=agent.id, input="one")
    r2 = client.agents.messages.create(agent_id=agent.id, input="two")
    id1, id2 = r1.messages[0].run_id, r2.messages[0].run_id
    assert id1 != id2
    listed = [r.id for r in client.runs.list(agent_ids=[agent.id], order="asc")]
    assert listed == [id1, id2]
    assert [r.id for r in client.runs.list(agent_ids=[agent.id], order="desc")] == [id2, id1]
    for rid in (id1, id2):
        assert client.runs.retrieve(rid).status == "completed"


def test_unknown_run_is_404(client):
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.runs.retrieve(random_id("run"))
    assert_error_body(ei.value, 404)
