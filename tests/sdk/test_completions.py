"""Routes letta-client 1.12.1 has no method for: `POST /v1/agents/{id}/generate`, the
OpenAI-compatible `POST /v1/chat/completions` (streamed; the `openai` package is not in the venv,
so its frames are read over plain HTTP), the retired voice route, `POST /v1/auth`,
`GET /v1/embeddings/total_storage_size` and `POST /v1/agents/messages/search`.

The JSON routes go through the SDK's own request method (`client.post`), so its headers and
error classes apply; the stream is read with httpx.
"""

from __future__ import annotations

import json

import letta_client
import pytest

from _helpers import assert_http_error, make_agent, random_id


def generate(client, agent_id: str, **body) -> dict:
    return client.post(f"/v1/agents/{agent_id}/generate", cast_to=object, body=body)


def test_generate_answers_with_the_agents_model_and_changes_nothing(client, fake, uid):
    agent = make_agent(client, f"gen-{uid}")
    before = [m.id for m in client.agents.messages.list(agent.id, limit=100)]
    fake.text("Paris.")
    out = generate(client, agent.id, prompt="Capital of France?", system_prompt="Be brief.")
    assert list(out) == ["content", "model", "usage"]
    assert out["content"] == "Paris."
    assert out["model"] == "gpt-4o-mini"
    assert out["usage"]["message_type"] == "usage_statistics"
    assert out["usage"]["total_tokens"] > 0
    assert [m.id for m in client.agents.messages.list(agent.id, limit=100)] == before
    assert list(client.runs.list(agent_ids=[agent.id])) == []
    assert client.agents.retrieve(agent.id).message_ids == agent.message_ids


def test_generate_with_a_schema_answers_json(client, fake, uid):
    agent = make_agent(client, f"gen-{uid}")
    fake.tool_call("structured_output", {"city": "Paris", "country": "France"})
    schema = {"properties": {"city": {"type": "string"}, "country": {"type": "string"}}}
    out = generate(client, agent.id, prompt="Where is the Louvre?", response_schema=schema)
    assert json.loads(out["content"]) == {"city": "Paris", "country": "France"}


def test_generate_errors(client, fake, uid):
    agent = make_agent(client, f"gen-{uid}")
    with pytest.raises(letta_client.UnprocessableEntityError):
        generate(client, agent.id, prompt=" ")
    with pytest.raises(letta_client.NotFoundError):
        generate(client, random_id("agent"), prompt="hi")
    with pytest.raises(letta_client.NotFoundError):
        generate(client, agent.id, prompt="hi", override_model="nowhere/none")
    fake.error(400, {"error": {"message": "no such thing"}})
    with pytest.raises(letta_client.APIStatusError) as ei:
        generate(client, agent.id, prompt="hi")
    assert ei.value.status_code == 502
    assert ei.value.body["detail"].startswith("LLM provider error: ")


def sse_data(resp) -> list[str]:
    """The `data:` payloads of an SSE response, checking that no event is named."""
    assert resp.status_code == 200, resp.read()
    assert resp.headers["content-type"].startswith("text/event-stream")
    out = []
    for line in resp.iter_lines():
        assert not line.startswith("event:"), line
        if line.startswith("data: "):
            out.append(line[len("data: "):])
    return out


def test_chat_completions_stream_an_agents_turn(client, http, fake, uid):
    agent = make_agent(client, f"chat-{uid}")
    fake.text(f"Hello from {uid}!")
    body = {
        "model": agent.id,
        "messages": [{"role": "system", "content": "ignored"}, {"role": "user", "content": "hi there"}],
        "stream": True,
    }
    with http.stream("POST", "/v1/chat/completions", json=body) as resp:
        frames = sse_data(resp)
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-run-")
    assert list(chunks[0]) == [
        "id", "choices", "created", "model", "object", "service_tier", "system_fingerprint", "usage",
    ]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0] == {
        "delta": {"content": None, "function_call": None, "refusal": None, "role": None, "tool_calls": None},
        "finish_reason": "stop",
        "index": 0,
        "logprobs": None,
    }
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks[:-1])
    assert text == f"Hello from {uid}!"
    stored = client.agents.messages.list(agent.id, limit=100)
    said = [m for m in stored if m.message_type in ("user_message", "assistant_message")]
    assert [(m.message_type, m.content) for m in said[-2:]] == [
        ("user_message", "hi there"),
        ("assistant_message", text),
    ]
    run = client.runs.retrieve(chunks[0]["id"].removeprefix("chatcmpl-"))
    assert run.status == "completed"


def test_chat_completions_refusals(client, http, uid):
    agent = make_agent(client, f"chat-{uid}")
    before = [m.id for m in client.agents.messages.list(agent.id, limit=100)]
    user = [{"role": "user", "content": "hi"}]
    resp = http.post("/v1/chat/completions", json={"model": agent.id, "messages": user})
    assert_http_error(resp, 400)
    assert "stream=true" in resp.json()["detail"]
    resp = http.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": user, "stream": True})
    assert_http_error(resp, 400)
    resp = http.post("/v1/chat/completions", json={"model": agent.id, "messages": [], "stream": True})
    assert_http_error(resp, 400)
    resp = http.post("/v1/chat/completions", json={"model": random_id("agent"), "messages": user, "stream": True})
    assert_http_error(resp, 404)
    resp = http.post("/v1/chat/completions", json={"messages": user})
    assert_http_error(resp, 422)
    resp = http.post(f"/v1/voice-beta/{agent.id}/chat/completions", json={"model": "x"})
    assert_http_error(resp, 410)
    assert [m.id for m in client.agents.messages.list(agent.id, limit=100)] == before


def test_auth_names_the_servers_one_user(client):
    out = client.post("/v1/auth", cast_to=object, body={"password": "anything"})
    assert out == {"uuid": "00000000-0000-4000-8000-000000000000", "is_admin": True}


def test_embeddings_storage_size_counts_archival_passages(client, http, uid):
    def size(unit: str | None = None) -> float:
        headers = {"storage-unit": unit} if unit else {}
        resp = http.get("/v1/embeddings/total_storage_size", headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()

    before = size("B")
    agent = make_agent(client, f"size-{uid}")
    client.agents.passages.create(agent.id, text=f"first {uid}")
    client.agents.passages.create(agent.id, text=f"second {uid}")
    # Letta sizes each passage as one vector of 4096 four-byte floats.
    assert size("B") - before == 2 * 4096 * 4
    assert size("KB") == size("B") / 1024
    assert size() == size("GB") == size("B") / 1024**3
    assert_http_error(http.get("/v1/embeddings/total_storage_size", headers={"storage-unit": "PB"}), 400)


def test_agents_message_search_answers_stored_messages_with_ranks(client, http, fake, uid):
    agent = make_agent(client, f"search-{uid}")
    fake.text(f"Kiwis are green {uid}.")
    client.agents.messages.create(agent_id=agent.id, input=f"tell me about kiwis {uid}")
    resp = http.post("/v1/agents/messages/search", json={"query": "kiwis", "agent_id": agent.id, "search_mode": "fts"})
    assert resp.status_code == 200, resp.text
    found = resp.json()
    assert {r["embedded_text"] for r in found} == {f"tell me about kiwis {uid}", f"Kiwis are green {uid}."}
    stored = {m.id for m in client.agents.messages.list(agent.id, limit=100)}
    for r in found:
        assert list(r) == ["embedded_text", "message", "fts_rank", "vector_rank", "rrf_score"]
        assert r["message"]["id"] in stored and r["message"]["agent_id"] == agent.id
        assert r["fts_rank"] >= 1 and r["vector_rank"] is None and r["rrf_score"] > 0
    resp = http.post("/v1/agents/messages/search", json={"query": "kiwis", "agent_id": agent.id, "roles": ["user"]})
    assert [r["message"]["role"] for r in resp.json()] == ["user"]
    resp = http.post("/v1/agents/messages/search", json={"query": "kiwis", "agent_id": agent.id, "limit": 0})
    assert_http_error(resp, 422)
