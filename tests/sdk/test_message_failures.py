"""Provider failures during a turn: what the caller sees and what is (not) stored."""

from __future__ import annotations

import httpx
import letta_client
import pytest

from _helpers import history, make_agent, of_type, text_of, tool_call_of, types


@pytest.fixture
def agent(client, uid):
    return make_agent(client, f"fail-{uid}", memory_blocks=[{"label": "human", "value": f"Name: Ada {uid}"}])


def runs_of(client, agent_id: str) -> list:
    return list(client.runs.list(agent_ids=[agent_id]))


def assert_llm_error(exc: letta_client.APIStatusError, error_type: str | None = None) -> None:
    """Letta's body for provider errors: {"error": {"type": "llm_...", "message", "detail"}}."""
    body = exc.body
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), f"error body: {body!r}"
    err = body["error"]
    assert isinstance(err.get("type"), str) and err["type"].startswith("llm_"), err
    assert isinstance(err.get("message"), str) and err["message"], err
    if error_type is not None:
        assert err["type"] == error_type, err
    assert exc.response.headers.get("content-type", "").startswith("application/json")


def test_provider_401_fails_the_request_and_stores_nothing(client, fake, agent):
    fake.error(401)

    with pytest.raises(letta_client.AuthenticationError) as ei:
        client.agents.messages.create(agent_id=agent.id, input="this will fail")
    assert ei.value.status_code == 401
    assert_llm_error(ei.value, "llm_authentication")
    assert len(fake.requests()) == 1, "a 401 from the provider must not be retried"

    # nothing half-written: no user message, no reply
    assert types(history(client, agent.id)) == ["system_message"]
    assert client.agents.retrieve(agent.id).message_ids == agent.message_ids

    # the run is recorded as failed
    runs = runs_of(client, agent.id)
    assert len(runs) == 1, runs
    run = runs[0]
    assert run.agent_id == agent.id
    assert run.status == "failed"
    assert run.stop_reason == "llm_api_error"
    assert client.runs.retrieve(run.id).status == "failed"

    # the agent is not stuck
    resp = client.agents.messages.create(agent_id=agent.id, input="again")
    assert [m.content for m in of_type(resp.messages, "assistant_message")] == ["echo: again"]
    assert types(history(client, agent.id)) == ["system_message", "user_message", "assistant_message"]
    statuses = sorted(r.status for r in runs_of(client, agent.id))
    assert statuses == ["completed", "failed"]


def test_provider_5xx_is_a_server_error_the_sdk_does_not_resend(server, client, fake, agent):
    # 5xx may be retried by the server itself; every attempt fails here
    fake.push(*[{"error": {"status": 500}}] * 20)
    sent: list[str] = []
    http_client = httpx.Client(event_hooks={"request": [lambda r: sent.append(f"{r.method} {r.url.path}")]})
    # the SDK's default retry policy (2 retries on >= 500) unless the server says otherwise
    retrying = letta_client.Letta(base_url=server.base_url, max_retries=2, timeout=60.0, http_client=http_client)
    with pytest.raises(letta_client.InternalServerError) as ei:
        retrying.agents.messages.create(agent_id=agent.id, input="boom")
    retrying.close()
    assert ei.value.status_code >= 500
    assert_llm_error(ei.value)
    assert sent == [f"POST /v1/agents/{agent.id}/messages"], f"the SDK re-sent the turn: {sent}"
    assert len(fake.queued()) > 0, "the server retried without end"
    assert types(history(client, agent.id)) == ["system_message"]
    runs = runs_of(client, agent.id)
    assert [(r.status, r.stop_reason) for r in runs] == [("failed", "llm_api_error")]


def test_failure_mid_turn_keeps_completed_steps(client, fake, agent, uid):
    fake.push(
        {"tool_calls": [{"name": "memory_insert", "arguments": {"label": "human", "new_string": f"Likes tea {uid}"}}]},
        {"error": {"status": 401}},
    )

    with pytest.raises(letta_client.AuthenticationError):
        client.agents.messages.create(agent_id=agent.id, input="I like tea")

    # step 1 (input, tool call, tool return) is stored and its memory edit applied
    stored = history(client, agent.id)
    assert types(stored) == ["system_message", "user_message", "tool_call_message", "tool_return_message"]
    assert text_of(stored[1]) == "I like tea"
    call = tool_call_of(stored[2])
    assert call.name == "memory_insert"
    assert stored[3].status == "success" and stored[3].tool_call_id == call.tool_call_id
    value = client.agents.blocks.retrieve("human", agent_id=agent.id).value
    assert value == f"Name: Ada {uid}\nLikes tea {uid}"
    assert value in text_of(stored[0]), "the system message reflects the applied edit"
    runs = runs_of(client, agent.id)
    assert [(r.status, r.stop_reason) for r in runs] == [("failed", "llm_api_error")]

    # the next message is answered normally, with the completed step in context
    resp = client.agents.messages.create(agent_id=agent.id, input="anything else?")
    assert [m.content for m in of_type(resp.messages, "assistant_message")] == ["echo: anything else?"]
    assert resp.stop_reason.stop_reason == "end_turn"
    last = fake.requests()[-1]
    roles = [m["role"] for m in last["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"], roles
    assert last["messages"][3]["tool_call_id"] == call.tool_call_id
