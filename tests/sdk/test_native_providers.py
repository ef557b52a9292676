"""Agents on Gemini and Ollama handles through letta-client 1.12.1: the server speaks each
provider's own protocol to the fake (Gemini's generateContent, Ollama's /api/chat).

Every test here scripts the session's fake LLM, so they run serially against the shared server.
"""

from __future__ import annotations

from _helpers import make_agent, of_type, text_of, types


def test_gemini_agent_turn_with_a_tool_call(client, fake, uid):
    agent = make_agent(client, f"gemini-{uid}", model="google_ai/gemini-2.5-flash")
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "cats"}}], "reasoning": "Look it up."},
        {"text": "Nothing about cats yet."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="what about cats?")
    assert types(resp.messages)[-3:] == ["tool_call_message", "tool_return_message", "assistant_message"]
    assert text_of(of_type(resp.messages, "assistant_message")[0]) == "Nothing about cats yet."
    gemini = [r for r in fake.recorded() if r["path"].startswith("/v1beta/models/")]
    assert [r["path"] for r in gemini] == ["/v1beta/models/gemini-2.5-flash:generateContent"] * 2
    assert gemini[0]["authorization"] == "x-goog-api-key gm-test"
    first, second = gemini[0]["body"], gemini[1]["body"]
    assert "systemInstruction" in first
    names = [d["name"] for d in first["tools"][0]["functionDeclarations"]]
    assert "conversation_search" in names
    response = second["contents"][-1]["parts"][0]["functionResponse"]
    assert response["name"] == "conversation_search"


def test_ollama_agent_turn(client, fake, uid):
    agent = make_agent(client, f"ollama-{uid}", model="ollama/llama3.2:latest")
    fake.text("Hello from Ollama.")
    resp = client.agents.messages.create(agent_id=agent.id, input="hi")
    assert text_of(of_type(resp.messages, "assistant_message")[0]) == "Hello from Ollama."
    chats = [r for r in fake.recorded() if r["path"] == "/api/chat"]
    assert len(chats) == 1
    body = chats[0]["body"]
    assert body["model"] == "llama3.2:latest"
    assert body["stream"] is False
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user", "content": body["messages"][-1]["content"]}
    assert "hi" in body["messages"][-1]["content"]


def test_anthropic_alias_handle_as_letta_tests_use_it(client, fake, uid):
    # Letta's own tests create agents on `anthropic/claude-haiku-4-5`, an alias the model list
    # does not name (it lists dated snapshots); it resolves to the snapshot's settings.
    agent = make_agent(client, f"claude-{uid}", model="anthropic/claude-haiku-4-5")
    assert agent.llm_config.model == "claude-haiku-4-5"
    assert agent.llm_config.context_window > 0
    fake.push({"text": "Hello from Claude.", "reasoning": "Greet back.", "signature": "sig-1"})
    resp = client.agents.messages.create(agent_id=agent.id, input="hi")
    assert text_of(of_type(resp.messages, "assistant_message")[0]) == "Hello from Claude."
    calls = [r for r in fake.recorded() if r["path"] == "/v1/messages"]
    assert len(calls) == 1
    assert calls[0]["api_key"] == "sk-ant-test"
    assert calls[0]["body"]["model"] == "claude-haiku-4-5"
    assert isinstance(calls[0]["body"]["system"], list)
