"""Request features through letta-client 1.x against the fake LLM: parallel tool calls, images in
user messages and in client tool returns, cached-token usage.

Tests here script the session's fake LLM, so they run serially against the shared server.
"""

from __future__ import annotations

from _helpers import MODEL, llm_messages, of_type

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def _agent(client, name, **kwargs):
    return client.agents.create(
        name=name,
        model=MODEL,
        memory_blocks=[{"label": "human", "value": "Name: Ada"}],
        **kwargs,
    )


def test_parallel_tool_calls_all_run_in_one_step_in_order(client, fake, uid):
    agent = _agent(
        client,
        f"par-{uid}",
        tools=["memory_insert", "conversation_search"],
        model_settings={"provider_type": "openai", "parallel_tool_calls": True},
    )
    fake.push(
        {
            "tool_calls": [
                {"name": "memory_insert", "arguments": {"label": "human", "new_string": "Has a cat."}, "id": "call_a"},
                {"name": "conversation_search", "arguments": {"query": "cat"}, "id": "call_b"},
            ]
        },
        {"text": "Done."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "cat"}])
    assert resp.stop_reason.stop_reason == "end_turn"
    assert resp.usage.step_count == 2
    # one tool_call_message per call (as Letta lists them), one return message with both
    calls = of_type(resp.messages, "tool_call_message")
    assert [c.tool_call.tool_call_id for c in calls] == ["call_a", "call_b"]
    returns = of_type(resp.messages, "tool_return_message")
    assert len(returns) == 1
    assert [r.tool_call_id for r in returns[0].tool_returns] == ["call_a", "call_b"]
    assert all(r.status == "success" for r in returns[0].tool_returns)
    # one step: the calls and their returns share it
    assert {c.step_id for c in calls} == {returns[0].step_id}
    second = fake.requests()[1]
    assert [m["tool_call_id"] for m in llm_messages(second, "tool")] == ["call_a", "call_b"]
    assert second["parallel_tool_calls"] is True
    human = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert human.value == "Name: Ada\nHas a cat."


def test_images_in_a_user_message_reach_the_model(client, fake, uid):
    agent = _agent(client, f"img-{uid}")
    fake.text("A cat.")
    client.agents.messages.create(
        agent_id=agent.id,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                ],
            }
        ],
    )
    user = llm_messages(fake.requests()[0], "user")[-1]
    assert user["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]


def test_a_client_tool_return_with_an_image_reaches_the_model(client, fake, uid):
    agent = _agent(client, f"img-tool-{uid}")
    tools = [{"name": "screenshot", "description": "Takes a screenshot.", "parameters": {"type": "object", "properties": {}}}]
    fake.push({"tool_calls": [{"name": "screenshot", "arguments": {}, "id": "call_shot"}]})
    resp = client.agents.messages.create(
        agent_id=agent.id, messages=[{"role": "user", "content": "look"}], client_tools=tools
    )
    assert resp.stop_reason.stop_reason == "requires_approval"
    fake.text("I see a dot.")
    parts = [
        {"type": "text", "text": "the screen:"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]
    resp = client.agents.messages.create(
        agent_id=agent.id,
        messages=[
            {
                "type": "approval",
                "approvals": [{"type": "tool", "tool_call_id": "call_shot", "tool_return": parts, "status": "success"}],
            }
        ],
    )
    assert resp.stop_reason.stop_reason == "end_turn"
    sent = fake.requests()[-1]["messages"]
    tool = llm_messages(fake.requests()[-1], "tool")[-1]
    assert tool["tool_call_id"] == "call_shot"
    # Chat Completions takes text only in tool messages: the image follows as a user message.
    assert tool["content"] == "the screen:"
    after = sent[sent.index(tool) + 1]
    assert after["role"] == "user"
    assert after["content"] == [
        {"type": "text", "text": "Images returned by tool call call_shot:"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    ret = of_type(resp.messages, "tool_return_message")[0]
    assert ret.tool_returns[0].tool_return[1].type == "image"


def test_cached_and_reasoning_tokens_are_reported_and_kept(client, fake, uid):
    agent = _agent(client, f"cache-{uid}", tools=["conversation_search"])
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "x"}}], "cache_read_tokens": 40},
        {"text": "Done.", "cache_read_tokens": 50, "reasoning_tokens": 7},
    )
    resp = client.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "go"}])
    assert resp.usage.step_count == 2
    assert resp.usage.cached_input_tokens == 90
    assert resp.usage.reasoning_tokens == 7
    run_id = resp.messages[0].run_id
    # persisted: the run's usage and each step record say the same
    usage = client.runs.usage.retrieve(run_id)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (90, 7)
    steps = list(client.runs.steps.list(run_id, order="asc"))
    assert [s.cached_input_tokens for s in steps] == [40, 50]
    assert [s.reasoning_tokens for s in steps] == [None, 7]
