"""A seed-era application's background turn: `create_async` returns a run, polled with
`runs.retrieve`, and `runs.list_active` (`GET /v1/runs/active`) shows it until it ends.
"""

from __future__ import annotations

import time

import letta_client

from _seed import MODEL, assert_id, checked, text_of, user


def wait_for_run(client: letta_client.Letta, run_id: str, timeout: float = 20.0) -> letta_client.Run:
    deadline = time.monotonic() + timeout
    while True:
        run = checked(client.runs.with_raw_response.retrieve(run_id), letta_client.Run)
        if run.status in ("completed", "failed", "cancelled"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
        time.sleep(0.05)


def test_an_async_turn_is_active_until_it_completes(client, fake, uid):
    agent = client.agents.create(name=f"seed-async-{uid}", model=MODEL)
    other = client.agents.create(name=f"seed-idle-{uid}", model=MODEL)
    fake.push({"text": "Done at last.", "delay_ms": 1500})
    run = checked(
        client.agents.messages.with_raw_response.create_async(agent.id, messages=user("take your time")),
        letta_client.Run,
    )
    assert_id(run.id, "run")
    assert run.status in ("created", "running")
    active = checked(client.runs.with_raw_response.list_active(agent_id=agent.id), list[letta_client.Run])
    assert [r.id for r in active] == [run.id]
    assert run.id in [r.id for r in client.runs.list_active()]
    assert client.runs.list_active(agent_id=other.id) == []

    done = wait_for_run(client, run.id)
    assert done.status == "completed", done
    assert client.runs.list_active(agent_id=agent.id) == []
    reply = client.agents.messages.list(agent.id, limit=100)[-1]
    assert text_of(reply) == "Done at last."


def test_steps_feedback_tags_and_run_delete_parse_in_the_seed_sdk(client, fake, uid):
    """What a seed-era dashboard calls after a turn: its steps with feedback, their metrics and
    messages, the tag list, and deleting the run."""
    agent = client.agents.create(name=f"seed-steps-{uid}", model=MODEL, tags=[f"seed-{uid}"])
    resp = client.agents.messages.create(agent.id, messages=user("hello"))
    answer = resp.messages[-1]
    step_id, run_id = answer.step_id, answer.run_id

    steps = checked(client.steps.with_raw_response.list(agent_id=agent.id), list[letta_client.Step])
    assert [s.id for s in steps] == [step_id]
    step = checked(
        client.steps.feedback.with_raw_response.create(step_id, feedback="positive"), letta_client.Step
    )
    assert step.feedback == "positive"
    assert [s.id for s in client.steps.list(agent_id=agent.id, feedback="positive")] == [step_id]
    metrics = checked(client.steps.metrics.with_raw_response.retrieve(step_id), letta_client.StepMetrics)
    assert (metrics.id, metrics.run_id, metrics.agent_id) == (step_id, run_id, agent.id)
    messages = client.steps.messages.list(step_id)
    assert [m.message_type for m in messages] == ["user_message", "assistant_message"]
    assert text_of(messages[-1]) == text_of(answer)

    assert checked(client.tags.with_raw_response.list(query_text=uid), list[str]) == [f"seed-{uid}"]

    deleted = checked(client.runs.with_raw_response.delete(run_id), letta_client.Run)
    assert (deleted.id, deleted.status) == (run_id, "completed")
    assert client.steps.list(agent_id=agent.id) == []
