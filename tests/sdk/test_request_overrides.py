"""What a message request changes for itself only, through letta-client 1.x against the fake LLM:
``override_system``, ``client_skills``, and ``messages/preview-raw-payload`` (which the SDK has no
method for: Letta's own test calls it through the client's ``post``, as these do).

Tests here script the session's fake LLM, so they run serially against the shared server.
"""

from __future__ import annotations

from typing import Any

import letta_client
import pytest

from _helpers import MODEL, assert_error_body, history, llm_messages, make_agent, random_id

SKILLS = [
    {"name": "pdf", "description": "Read PDFs.\nMore details.", "location": "/skills/pdf/SKILL.md"},
    {"name": "api-ops", "description": "Operational API runbook.", "location": "/skills/api-ops/SKILL.md"},
]
SKILLS_SECTION = (
    "<available_skills>\n/skills\n├── api-ops/\n│   └── SKILL.md (Operational API runbook.)\n"
    "└── pdf/\n    └── SKILL.md (Read PDFs.)\n</available_skills>"
)


def _stored_system(client, agent_id: str) -> str:
    first = history(client, agent_id)[0]
    assert first.message_type == "system_message"
    return first.content


def _sent_system(request: dict) -> str:
    return llm_messages(request, "system")[0]["content"]


def _preview(client, agent_id: str, body: dict) -> dict[str, Any]:
    return client.post(f"/v1/agents/{agent_id}/messages/preview-raw-payload", cast_to=dict[str, Any], body=body)


def test_override_system_reaches_every_call_of_the_turn_and_is_not_stored(client, fake, uid):
    agent = make_agent(client, f"ovs-{uid}", tools=["memory_insert"])
    stored = _stored_system(client, agent.id)
    fake.tool_call("memory_insert", {"label": "human", "new_string": "Likes tea."})
    fake.text("Noted.")
    resp = client.agents.messages.create(
        agent_id=agent.id,
        messages=[{"role": "user", "content": "I like tea"}],
        override_system="You are terse.",
        client_skills=SKILLS,
    )
    assert resp.stop_reason.stop_reason == "end_turn"
    assert [_sent_system(r) for r in fake.requests()] == ["You are terse.", "You are terse."]
    # The stored system message is the agent's own, recompiled for the memory edit.
    after = _stored_system(client, agent.id)
    assert "You are terse." not in after
    assert "Likes tea." in after and "Likes tea." not in stored

    fake.text("Hello.")
    client.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "hi"}])
    assert _sent_system(fake.requests()[-1]) == after


def test_client_skills_reach_the_model_and_the_stored_prompt_stays_byte_identical(client, fake, uid):
    agent = make_agent(client, f"skills-{uid}")
    stored = _stored_system(client, agent.id)
    fake.text("pdf and api-ops")
    client.agents.messages.create(
        agent_id=agent.id, messages=[{"role": "user", "content": "which skills?"}], client_skills=SKILLS
    )
    fake.text("again")
    # The 1.x SDK's way to stream: `streaming=True` on create.
    stream = client.agents.messages.create(
        agent_id=agent.id, messages=[{"role": "user", "content": "again"}], client_skills=SKILLS, streaming=True
    )
    with stream:
        list(stream)
    sent = [_sent_system(r) for r in fake.requests()]
    assert sent == [stored.rstrip("\n") + "\n\n" + SKILLS_SECTION] * 2
    assert "<available_skills>" not in _stored_system(client, agent.id)
    assert _stored_system(client, agent.id) == stored


@pytest.mark.parametrize(
    ("model", "path"),
    [(MODEL, "/v1/chat/completions"), ("anthropic/claude-haiku-4-5", "/v1/messages")],
)
def test_a_preview_is_the_body_a_send_then_makes_and_stores_nothing(client, fake, uid, model, path):
    agent = make_agent(client, f"preview-{uid}", model=model, tools=["conversation_search"])
    fake.text("Earlier answer.")
    client.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "earlier"}])
    stored = [m.id for m in history(client, agent.id)]
    sent_before = len(fake.recorded())
    request = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "now"}]}],
        "override_system": "You preview.",
        "client_tools": [{"name": "open_file", "description": "Opens a file.", "parameters": {"type": "object"}}],
    }

    payload = _preview(client, agent.id, request)
    assert [m.id for m in history(client, agent.id)] == stored, "a preview stores nothing"
    assert len(fake.recorded()) == sent_before, "a preview sends nothing"

    fake.text("Now answered.")
    client.agents.messages.create(agent_id=agent.id, **request)
    sent = fake.recorded()[sent_before]
    assert sent["path"] == path
    assert payload == sent["body"]
    assert "You preview." in str(payload) and "open_file" in str(payload)
    assert "Earlier answer." in str(payload)


def test_a_preview_is_refused_as_a_send_would_be(client, uid):
    agent = make_agent(client, f"preview-err-{uid}")
    with pytest.raises(letta_client.UnprocessableEntityError) as exc:
        _preview(client, agent.id, {"messages": []})
    assert_error_body(exc.value, 422)
    assert exc.value.body["detail"] == "Messages must not be empty"
    with pytest.raises(letta_client.NotFoundError):
        _preview(client, random_id("agent"), {"messages": [{"role": "user", "content": "hi"}]})
