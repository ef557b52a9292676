"""Steps across runs (`client.steps.*`), run metrics and deletion, and `client.tags.list()`."""

from __future__ import annotations

import time

import letta_client
import pytest

from _helpers import (
    assert_error_body,
    assert_http_error,
    make_agent,
    random_id,
    types,
    wait_for_run,
    wait_model_called,
)


def two_step_turn(client, fake, agent_id: str):
    """A turn of two steps (a search, then the answer); returns the response."""
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "nothing"}}]},
        {"text": "All done."},
    )
    return client.agents.messages.create(agent_id=agent_id, input="do two steps")


def test_steps_list_across_runs_filtered_by_agent(client, fake, uid):
    agent = make_agent(client, f"steps-{uid}")
    other = make_agent(client, f"steps-other-{uid}")
    first = two_step_turn(client, fake, agent.id)
    client.agents.messages.create(agent_id=other.id, input="elsewhere")
    second = client.agents.messages.create(agent_id=agent.id, input="again")
    expected = list(dict.fromkeys(m.step_id for m in first.messages + second.messages))
    assert len(expected) == 3

    listed = list(client.steps.list(agent_id=agent.id, order="asc"))
    assert [s.id for s in listed] == expected
    assert {s.agent_id for s in listed} == {agent.id}
    newest_first = [s.id for s in client.steps.list(agent_id=agent.id)]
    assert newest_first == expected[::-1]
    page = client.steps.list(agent_id=agent.id, order="asc", after=expected[0], limit=1)
    assert [s.id for s in page.items] == [expected[1]]
    assert [s.id for s in client.steps.list(agent_id=agent.id, model="no-such-model")] == []
    model = listed[0].model
    assert [s.id for s in client.steps.list(agent_id=agent.id, model=model, order="asc")] == expected
    later = client.steps.list(agent_id=agent.id, start_date="2999-01-01T00:00:00Z")
    assert list(later) == []
    earlier = client.steps.list(agent_id=agent.id, end_date="2999-01-01T00:00:00+00:00", order="asc")
    assert [s.id for s in earlier] == expected


def test_step_feedback_is_stored_and_filters_the_list(client, fake, uid):
    agent = make_agent(client, f"feedback-{uid}")
    resp = two_step_turn(client, fake, agent.id)
    first, second = list(dict.fromkeys(m.step_id for m in resp.messages))

    step = client.steps.feedback.create(first, feedback="positive", tags=["helpful"])
    assert (step.id, step.feedback, step.tags) == (first, "positive", ["helpful"])
    assert client.steps.retrieve(first).feedback == "positive"
    client.steps.feedback.create(second, feedback="negative")

    def listed(**filters) -> list[str]:
        return [s.id for s in client.steps.list(agent_id=agent.id, order="asc", **filters)]

    assert listed(has_feedback=True) == [first, second]
    assert listed(feedback="positive") == [first]
    assert listed(feedback="negative") == [second]
    cleared = client.steps.feedback.create(second)
    assert cleared.feedback is None
    assert listed(has_feedback=False) == [second]

    with pytest.raises(letta_client.NotFoundError) as ei:
        client.steps.feedback.create(random_id("step"), feedback="positive")
    assert_error_body(ei.value, 404)


def test_step_messages_are_the_messages_the_step_wrote(client, fake, uid):
    agent = make_agent(client, f"stepmsgs-{uid}")
    resp = two_step_turn(client, fake, agent.id)
    first, second = list(dict.fromkeys(m.step_id for m in resp.messages))

    # The turn's input is written with its first step, as Letta does.
    call = list(client.steps.messages.list(first))
    assert types(call) == ["user_message", "tool_call_message", "tool_return_message"]
    assert {m.step_id for m in call} == {first}
    answer = list(client.steps.messages.list(second))
    assert types(answer) == ["assistant_message"]
    assert answer[0].id == resp.messages[-1].id
    newest_first = client.steps.messages.list(first, order="desc", limit=2).items
    assert types(newest_first) == ["tool_return_message", "tool_call_message"]

    with pytest.raises(letta_client.NotFoundError) as ei:
        client.steps.messages.list(random_id("step"))
    assert_error_body(ei.value, 404)


def test_step_metrics_time_the_step_and_name_its_run_and_agent(client, fake, uid):
    agent = make_agent(client, f"stepmetrics-{uid}")
    fake.latency(50)
    before = time.time_ns()
    resp = two_step_turn(client, fake, agent.id)
    after = time.time_ns()
    msg = resp.messages[-1]
    first, second = list(dict.fromkeys(m.step_id for m in resp.messages))
    metrics = client.steps.metrics.retrieve(msg.step_id)
    assert (metrics.id, metrics.run_id, metrics.agent_id) == (msg.step_id, msg.run_id, agent.id)

    # The search step ran a tool; the answer's did not. Each model call took the latency.
    call, answer = client.steps.metrics.retrieve(first), client.steps.metrics.retrieve(second)
    assert call.tool_execution_ns > 0 and answer.tool_execution_ns is None
    for m in (call, answer):
        assert before <= m.step_start_ns <= m.llm_request_start_ns <= after
        assert m.llm_request_ns >= 50_000_000
        assert m.step_ns >= m.llm_request_ns + (m.tool_execution_ns or 0)
    assert call.step_start_ns + call.step_ns <= answer.step_start_ns
    run = client.runs.retrieve(msg.run_id)
    assert 50_000_000 <= run.ttft_ns <= run.total_duration_ns

    with pytest.raises(letta_client.NotFoundError) as ei:
        client.steps.metrics.retrieve(random_id("step"))
    assert_error_body(ei.value, 404)


def test_run_metrics_count_steps_and_the_tools_called(client, http, fake, uid):
    agent = make_agent(client, f"runmetrics-{uid}")
    before = time.time_ns()
    resp = two_step_turn(client, fake, agent.id)
    run_id = resp.messages[0].run_id
    r = http.get(f"/v1/runs/{run_id}/metrics")
    assert r.status_code == 200, r.text
    metrics = r.json()
    assert (metrics["id"], metrics["agent_id"], metrics["num_steps"]) == (run_id, agent.id, 2)
    search = next(t for t in client.agents.tools.list(agent.id) if t.name == "conversation_search")
    assert metrics["tools_used"] == [search.id]
    assert before - 1_000_000_000 <= metrics["run_start_ns"] <= time.time_ns()
    assert metrics["run_ns"] > 0

    assert_http_error(http.get(f"/v1/runs/{random_id('run')}/metrics"), 404)


def test_delete_run_removes_it_with_its_steps_and_keeps_the_messages(client, http, fake, uid):
    agent = make_agent(client, f"delrun-{uid}")
    resp = client.agents.messages.create(agent_id=agent.id, input="remember me")
    answer = resp.messages[-1]
    run_id, step_id = answer.run_id, answer.step_id

    r = http.delete(f"/v1/runs/{run_id}")
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"]) == (run_id, "completed")
    with pytest.raises(letta_client.NotFoundError):
        client.runs.retrieve(run_id)
    with pytest.raises(letta_client.NotFoundError):
        client.steps.retrieve(step_id)
    assert [r.id for r in client.runs.list(agent_id=agent.id)] == []
    assert [m.id for m in client.messages.retrieve(answer.id)] == [answer.id]
    assert_http_error(http.delete(f"/v1/runs/{run_id}"), 404)


def test_delete_of_a_running_run_is_refused_until_it_ends(client, http, fake, uid):
    agent = make_agent(client, f"delactive-{uid}")
    fake.push({"text": "slowly", "delay_ms": 1500})
    stream = client.agents.messages.create(
        agent_id=agent.id, input="take your time", streaming=True, background=True
    )
    wait_model_called(fake)
    (run,) = client.runs.list(agent_id=agent.id)
    assert_http_error(http.delete(f"/v1/runs/{run.id}"), 409)
    stream.close()
    assert wait_for_run(client, run.id).status == "completed"
    assert http.delete(f"/v1/runs/{run.id}").status_code == 200


def test_tags_list_agent_and_block_tags_once_sorted(client, uid):
    a, b, c = f"a-{uid}", f"b-{uid}", f"c-{uid}"
    make_agent(client, f"tags1-{uid}", tags=[c, a])
    make_agent(client, f"tags2-{uid}", tags=[a])
    client.blocks.create(label="notes", value="x", tags=[b, a])

    assert client.tags.list(query_text=uid) == [a, b, c]
    assert client.tags.list(name=uid.upper()) == [a, b, c]
    assert client.tags.list(query_text=uid, order="desc") == [c, b, a]
    assert client.tags.list(query_text=uid, after=a, limit=1) == [b]
    assert client.tags.list(query_text=uid, order="desc", after=c) == [b, a]
    assert client.tags.list(query_text=uid, before=c) == [a, b]
    assert a in client.tags.list(limit=10_000)
