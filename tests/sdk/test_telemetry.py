"""Telemetry through the SDK: a step's provider trace (`client.steps.trace`) and a run's trace
spans (`client.runs.trace`)."""

from __future__ import annotations

import letta_client
import pytest

from _helpers import make_agent


def test_step_trace_is_the_model_call_without_the_key(client, fake, uid):
    agent = make_agent(client, f"trace-{uid}")
    fake.text("traced answer")
    resp = client.agents.messages.create(agent_id=agent.id, input="trace me")
    step_id = resp.messages[0].step_id

    trace = client.steps.trace.retrieve(step_id)
    assert trace is not None
    assert trace.step_id == step_id
    assert trace.agent_id == agent.id
    assert trace.run_id == resp.messages[0].run_id
    assert trace.call_type == "agent_step"
    assert trace.id.startswith("provider_trace-")
    bodies = [r for r in fake.requests() if r.get("messages")]
    assert trace.request_json == bodies[-1]
    assert trace.response_json["choices"][0]["message"]["content"] == "traced answer"
    assert "sk-test" not in trace.model_dump_json()

    unknown = "step-00000000-0000-4000-8000-000000000000"
    assert client.steps.trace.retrieve(unknown) is None
    with pytest.raises(letta_client.UnprocessableEntityError):
        client.steps.trace.retrieve("not-a-step")


def test_run_trace_lists_the_run_and_its_steps(client, fake, uid):
    agent = make_agent(client, f"run-trace-{uid}")
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "nothing"}}]},
        {"text": "All done."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="two steps")
    steps = list(dict.fromkeys(m.step_id for m in resp.messages))
    assert len(steps) == 2

    spans = client.runs.trace.retrieve(resp.messages[0].run_id)
    assert [s["SpanName"] for s in spans] == ["run", "agent_step", "agent_step"]
    assert [s["SpanAttributes"]["step_id"] for s in spans[1:]] == steps
    assert all(s["ParentSpanId"] == spans[0]["SpanId"] for s in spans[1:])
    assert len(client.runs.trace.retrieve(resp.messages[0].run_id, limit=2)) == 2
    with pytest.raises(letta_client.UnprocessableEntityError):
        client.runs.trace.retrieve(resp.messages[0].run_id, limit=0)
