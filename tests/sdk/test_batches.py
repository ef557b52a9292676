"""Message batches (`/v1/messages/batches`). letta-client 1.12.1 has no methods for them, so
the tests call the routes through the client's own HTTP layer (`client.get/post/patch`), with
the headers and error handling every SDK call has."""

from __future__ import annotations

import time
from typing import Any, Dict, List

import letta_client
import pytest
from letta_client.types.agents.internal_message import InternalMessage

from _helpers import assert_error_body, assert_id, make_agent

BATCHES = "/v1/messages/batches"


def create(client, body: dict) -> Dict[str, Any]:
    return client.post(BATCHES, cast_to=Dict[str, Any], body=body)


def retrieve(client, batch_id: str) -> Dict[str, Any]:
    return client.get(f"{BATCHES}/{batch_id}", cast_to=Dict[str, Any])


def wait_status(client, batch_id: str, status: str, timeout: float = 20.0) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        batch = retrieve(client, batch_id)
        if batch["status"] == status:
            return batch
        assert time.monotonic() < deadline, f"batch still {batch['status']}: {batch}"
        time.sleep(0.1)


def test_a_batch_answers_every_agent_and_lists_their_messages(client, fake, uid):
    a = make_agent(client, f"batch-a-{uid}")
    b = make_agent(client, f"batch-b-{uid}")
    fake.rule("question for a", {"text": "answer from a"})
    fake.rule("question for b", {"text": "answer from b"})
    batch = create(client, {"requests": [
        {"agent_id": a.id, "messages": [{"role": "user", "content": "question for a"}]},
        {"agent_id": b.id, "input": "question for b"},
    ]})
    assert_id(batch["id"], "job")
    assert batch["job_type"] == "batch"
    assert batch["status"] == "running"
    assert batch["metadata"]["job_type"] == "batch_messages"

    done = wait_status(client, batch["id"], "completed")
    assert done["completed_at"] is not None
    requests = done["metadata"]["requests"]
    assert [r["agent_id"] for r in requests] == [a.id, b.id]
    assert [r["status"] for r in requests] == ["completed", "completed"]
    run = client.runs.retrieve(requests[0]["run_id"])
    assert run.status == "completed" and run.agent_id == a.id

    listed = client.get(f"{BATCHES}/{batch['id']}/messages", cast_to=Dict[str, Any],
                        options={"params": {"order": "asc"}})
    messages = [InternalMessage.model_validate(m) for m in listed["messages"]]
    assert {m.agent_id for m in messages} == {a.id, b.id}
    assert {m.role for m in messages} >= {"user", "assistant"}
    only_b = client.get(f"{BATCHES}/{batch['id']}/messages", cast_to=Dict[str, Any],
                        options={"params": {"agent_id": b.id}})
    assert only_b["messages"] and all(m["agent_id"] == b.id for m in only_b["messages"])
    answers = [m for m in client.agents.messages.list(a.id) if m.message_type == "assistant_message"]
    assert [m.content for m in answers] == ["answer from a"]


def test_cancel_stops_a_running_batch(client, fake, uid):
    a = make_agent(client, f"batch-c-{uid}")
    fake.push({"text": "slow", "delay_ms": 30000})
    batch = create(client, {"requests": [
        {"agent_id": a.id, "input": "one"},
        {"agent_id": a.id, "input": "two"},
    ]})
    deadline = time.monotonic() + 20
    while retrieve(client, batch["id"])["metadata"]["progress"]["running"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    going = client.get(BATCHES, cast_to=List[Dict[str, Any]])
    assert [g["id"] for g in going] == [batch["id"]]

    assert client.patch(f"{BATCHES}/{batch['id']}/cancel", cast_to=object) is None
    assert retrieve(client, batch["id"])["status"] == "cancelled"
    deadline = time.monotonic() + 20
    while retrieve(client, batch["id"])["metadata"]["progress"]["cancelled"] != 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert retrieve(client, batch["id"])["status"] == "cancelled"
    assert client.get(BATCHES, cast_to=List[Dict[str, Any]]) == []


def test_bad_batches_are_refused(client, uid):
    a = make_agent(client, f"batch-d-{uid}")
    with pytest.raises(letta_client.NotFoundError) as e:
        create(client, {"requests": [
            {"agent_id": a.id, "input": "hi"},
            {"agent_id": "agent-00000000-0000-4000-8000-000000000000", "input": "hi"},
        ]})
    assert_error_body(e.value, 404)
    assert list(client.runs.list(agent_ids=[a.id])) == []
    with pytest.raises(letta_client.UnprocessableEntityError):
        create(client, {"requests": [{"agent_id": a.id, "input": "hi"}], "callback_url": "ftp://x"})
    with pytest.raises(letta_client.NotFoundError):
        retrieve(client, "job-00000000-0000-4000-8000-000000000000")
