"""Agent turns through letta-client 1.12.1: `POST /v1/agents/{id}/messages` against the fake LLM.

Every test here scripts the session's fake LLM (the `fake` fixture resets it), so the tests must
run serially against the shared server.
"""

from __future__ import annotations

import json
import threading

import letta_client
import pytest

from _helpers import (
    assert_error_body,
    assert_id,
    history,
    llm_messages,
    llm_text,
    llm_tools,
    make_agent,
    of_type,
    random_id,
    text_of,
    tool_call_of,
    types,
)


@pytest.fixture
def agent(client, uid):
    return make_agent(
        client,
        f"turn-{uid}",
        memory_blocks=[
            {"label": "human", "value": f"Name: Ada {uid}", "limit": 60},
            {"label": "persona", "value": f"I am terse {uid}."},
        ],
    )


# -- a plain turn --------------------------------------------------------------------------------


def test_v1_agent_answers_and_stores_the_exchange(client, fake, agent, uid):
    resp = client.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "hi"}])

    # what the caller sees: the reply only (Letta never echoes the input), one step, end_turn
    assert types(resp.messages) == ["assistant_message"], resp.messages
    reply = resp.messages[0]
    assert reply.content == "echo: hi"
    assert_id(reply.id, "message")
    assert_id(reply.run_id, "run")
    assert_id(reply.step_id, "step")
    assert resp.stop_reason.stop_reason == "end_turn"
    assert resp.stop_reason.message_type == "stop_reason"
    assert resp.usage.step_count == 1
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    # what is stored: the system message, the input, the reply; oldest first by default
    listed = list(client.agents.messages.list(agent.id))
    assert types(listed) == ["system_message", "user_message", "assistant_message"]
    assert text_of(listed[1]) == "hi"
    assert listed[2].id == reply.id
    assert text_of(listed[2]) == "echo: hi"
    assert listed[1].run_id == reply.run_id
    assert [m.id for m in history(client, agent.id)] == [m.id for m in listed]
    # newest first with order=desc
    assert [m.id for m in client.agents.messages.list(agent.id, order="desc", limit=1)] == [reply.id]

    # what the model got: the compiled system message with the memory, the input, the tools
    requests = fake.requests()
    assert len(requests) == 1
    req = requests[0]
    assert req["model"] == "gpt-4o-mini"
    systems = llm_messages(req, "system")
    assert len(systems) == 1 and req["messages"][0]["role"] == "system"
    system = llm_text(systems[0])
    for needle in ("human", f"Name: Ada {uid}", "persona", f"I am terse {uid}."):
        assert needle in system, f"{needle!r} is not in the system message sent to the model"
    assert llm_text(req["messages"][-1]) == "hi" and req["messages"][-1]["role"] == "user"
    tools = llm_tools(req)
    for name in ("conversation_search", "memory_replace", "memory_insert"):
        assert name in tools, f"tool {name!r} not offered to the model: {sorted(tools)}"
    assert "send_message" not in tools, "letta_v1_agent answers in plain text, without send_message"
    # the server used the key from its environment
    chat = [r for r in fake.recorded() if r["path"] == "/v1/chat/completions"]
    assert chat and chat[0]["authorization"] == "Bearer sk-test"


def test_input_shorthand_and_text_parts(client, fake, agent):
    resp = client.agents.messages.create(agent_id=agent.id, input="shorthand")
    assert [m.content for m in of_type(resp.messages, "assistant_message")] == ["echo: shorthand"]
    resp = client.agents.messages.create(
        agent_id=agent.id,
        messages=[{"role": "user", "content": [{"type": "text", "text": "as parts"}]}],
    )
    assert [m.content for m in of_type(resp.messages, "assistant_message")] == ["echo: as parts"]
    users = of_type(history(client, agent.id), "user_message")
    assert [text_of(m) for m in users] == ["shorthand", "as parts"]


def test_second_turn_sees_the_first(client, fake, agent):
    client.agents.messages.create(agent_id=agent.id, input="first question")
    client.agents.messages.create(agent_id=agent.id, input="second question")
    second = fake.requests()[-1]
    contents = [(m["role"], llm_text(m)) for m in second["messages"][1:]]
    assert contents == [
        ("user", "first question"),
        ("assistant", "echo: first question"),
        ("user", "second question"),
    ]


# -- memory tools -------------------------------------------------------------------------------


def test_memory_replace_edits_the_block(client, fake, agent, uid):
    args = {"label": "human", "old_string": f"Ada {uid}", "new_string": f"Ada Lovelace {uid}"}
    fake.push({"tool_calls": [{"name": "memory_replace", "arguments": args}]}, {"text": "Noted."})

    resp = client.agents.messages.create(agent_id=agent.id, input="My surname is Lovelace.")

    assert types(resp.messages) == ["tool_call_message", "tool_return_message", "assistant_message"]
    call_msg, ret, answer = resp.messages
    call = tool_call_of(call_msg)
    assert call.name == "memory_replace"
    assert json.loads(call.arguments) == args
    assert ret.status == "success"
    assert ret.tool_call_id == call.tool_call_id
    assert f"Ada Lovelace {uid}" in ret.tool_return  # memory tools return the new value
    assert answer.content == "Noted."
    assert resp.stop_reason.stop_reason == "end_turn"
    assert resp.usage.step_count == 2

    new_value = f"Name: Ada Lovelace {uid}"
    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == new_value
    # the stored system message was recompiled with the new value
    stored = history(client, agent.id)
    assert stored[0].message_type == "system_message"
    assert new_value in text_of(stored[0])
    assert types(stored[1:]) == ["user_message", "tool_call_message", "tool_return_message", "assistant_message"]

    # the model saw the tool return in step 2, and the new memory in the next turn's system message
    requests = fake.requests()
    assert len(requests) == 2
    tool_msgs = llm_messages(requests[1], "tool")
    assert [m["tool_call_id"] for m in tool_msgs] == [call.tool_call_id]
    client.agents.messages.create(agent_id=agent.id, input="thanks")
    assert new_value in llm_text(fake.requests()[-1]["messages"][0])


def test_memory_insert_appends_a_line(client, fake, agent, uid):
    fake.push(
        {"tool_calls": [{"name": "memory_insert", "arguments": {"label": "persona", "new_string": f"Likes tea {uid}"}}]},
        {"text": "ok"},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="remember tea")
    assert [m.status for m in of_type(resp.messages, "tool_return_message")] == ["success"]
    assert client.agents.blocks.retrieve("persona", agent_id=agent.id).value == f"I am terse {uid}.\nLikes tea {uid}"


def test_block_limit_violation_is_a_tool_error_and_the_turn_goes_on(client, fake, agent, uid):
    before = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert before.limit == 60
    too_long = "x" * 100
    fake.push(
        {"tool_calls": [{"name": "memory_replace", "arguments": {"label": "human", "old_string": f"Ada {uid}", "new_string": too_long}}]},
        {"text": "Sorry, that did not fit."},
    )

    resp = client.agents.messages.create(agent_id=agent.id, input="store a lot")

    assert types(resp.messages) == ["tool_call_message", "tool_return_message", "assistant_message"]
    ret = resp.messages[1]
    assert ret.status == "error"
    assert "limit" in ret.tool_return.lower() and "60" in ret.tool_return, ret.tool_return
    assert resp.messages[2].content == "Sorry, that did not fit."
    assert resp.stop_reason.stop_reason == "end_turn"
    assert resp.usage.step_count == 2

    after = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert after.value == before.value == f"Name: Ada {uid}"
    assert too_long not in text_of(history(client, agent.id)[0])
    # the model was told about the failure
    tool_msgs = llm_messages(fake.requests()[1], "tool")
    assert len(tool_msgs) == 1 and "60" in llm_text(tool_msgs[0])
    # stored as an error too
    stored_ret = of_type(history(client, agent.id), "tool_return_message")
    assert [m.status for m in stored_ret] == ["error"]


def test_unknown_block_label_is_a_tool_error(client, fake, agent):
    fake.push(
        {"tool_calls": [{"name": "memory_insert", "arguments": {"label": "nope", "new_string": "x"}}]},
        {"text": "ok"},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="edit a missing block")
    ret = of_type(resp.messages, "tool_return_message")
    assert len(ret) == 1 and ret[0].status == "error"
    assert "nope" in ret[0].tool_return
    assert of_type(resp.messages, "assistant_message")[0].content == "ok"


# -- V2 heartbeats ---------------------------------------------------------------------------------


def test_memgpt_v2_heartbeat_chain(client, fake, uid):
    agent = make_agent(client, f"v2-{uid}", agent_type="memgpt_v2_agent")
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "x", "request_heartbeat": True}}]},
        {"tool_calls": [{"name": "send_message", "arguments": {"message": "done"}}]},
    )

    resp = client.agents.messages.create(agent_id=agent.id, input="look something up")

    calls = of_type(resp.messages, "tool_call_message")
    assert [tool_call_of(m).name for m in calls] == ["conversation_search"], "send_message renders as assistant_message"
    rets = of_type(resp.messages, "tool_return_message")
    assert len(rets) == 1 and rets[0].status == "success"
    assert rets[0].tool_call_id == tool_call_of(calls[0]).tool_call_id
    assert [m.content for m in of_type(resp.messages, "assistant_message")] == ["done"]
    assert resp.usage.step_count == 2
    assert resp.stop_reason.stop_reason == "end_turn"

    requests = fake.requests()
    assert len(requests) == 2
    heartbeats = []
    for m in llm_messages(requests[1], "user"):
        try:
            body = json.loads(llm_text(m))
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("type") == "heartbeat":
            heartbeats.append(body)
    assert len(heartbeats) == 1, f"no heartbeat user message in the second request: {requests[1]['messages']}"
    assert "reason" in heartbeats[0] and "time" in heartbeats[0]

    tools = llm_tools(requests[0])
    assert "send_message" in tools and "conversation_search" in tools
    for name, fn in tools.items():
        props = fn["parameters"]["properties"]
        if name == "send_message":
            assert "request_heartbeat" not in props, "send_message must not take request_heartbeat"
        else:
            assert props.get("request_heartbeat", {}).get("type") == "boolean", f"{name} lacks request_heartbeat"
            assert "request_heartbeat" in fn["parameters"].get("required", []), name

    # stored: input, call, return, heartbeat, send_message call; the heartbeat is a user message
    stored = history(client, agent.id)
    assert [text_of(m) for m in of_type(stored, "user_message")][0] == "look something up"
    assert [m.content for m in of_type(stored, "assistant_message")] == ["done"]


# -- search tools ----------------------------------------------------------------------------------


def test_conversation_search_finds_earlier_history(client, fake, agent, uid):
    first = client.agents.messages.create(agent_id=agent.id, input=f"my cat is called Miso {uid}")
    assert of_type(first.messages, "assistant_message")[0].content == f"echo: my cat is called Miso {uid}"

    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": f"miso {uid}"}}]},
        {"text": "Your cat is Miso."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="what is my cat called?")
    rets = of_type(resp.messages, "tool_return_message")
    assert len(rets) == 1 and rets[0].status == "success"
    assert f"Miso {uid}" in rets[0].tool_return, rets[0].tool_return
    assert of_type(resp.messages, "assistant_message")[0].content == "Your cat is Miso."

    # a query that shares no word with the history finds nothing (search is ranked by words,
    # so the query must not contain the uid the history does)
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "xylophone quartz"}}]},
        {"text": "nothing"},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="search again")
    ret = of_type(resp.messages, "tool_return_message")[0]
    assert ret.status == "success"
    assert "Miso" not in ret.tool_return, ret.tool_return


def test_archival_memory_insert_then_search(client, fake, uid):
    agent = make_agent(client, f"arch-{uid}", tools=["archival_memory_insert", "archival_memory_search"])
    content = f"The launch code is {uid}"
    fake.push(
        {"tool_calls": [{"name": "archival_memory_insert", "arguments": {"content": content, "tags": [f"secret-{uid}"]}}]},
        {"text": "Stored."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="remember the launch code")
    rets = of_type(resp.messages, "tool_return_message")
    assert len(rets) == 1 and rets[0].status == "success", rets
    assert of_type(resp.messages, "assistant_message")[0].content == "Stored."
    tools = llm_tools(fake.requests()[0])
    assert "archival_memory_insert" in tools and "archival_memory_search" in tools

    fake.push(
        {"tool_calls": [{"name": "archival_memory_search", "arguments": {"query": "launch code"}}]},
        {"text": "Found it."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="what was the launch code?")
    rets = of_type(resp.messages, "tool_return_message")
    assert len(rets) == 1 and rets[0].status == "success"
    assert content in rets[0].tool_return, rets[0].tool_return
    assert f"secret-{uid}" in rets[0].tool_return
    assert of_type(resp.messages, "assistant_message")[0].content == "Found it."


# -- step limit ------------------------------------------------------------------------------------


def test_max_steps_stops_the_loop(client, fake, agent):
    search = {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "q"}}]}
    fake.push(search, search, search)

    resp = client.agents.messages.create(agent_id=agent.id, input="keep searching", max_steps=2)

    assert resp.stop_reason.stop_reason == "max_steps"
    assert resp.usage.step_count == 2
    assert types(resp.messages) == ["tool_call_message", "tool_return_message"] * 2
    assert len(fake.requests()) == 2
    assert len(fake.queued()) == 1, "the third scripted reply must not have been requested"
    # both steps are stored
    stored = history(client, agent.id)
    assert types(stored[1:]) == ["user_message"] + ["tool_call_message", "tool_return_message"] * 2


# -- reset and context -----------------------------------------------------------------------------


def test_reset_leaves_only_the_system_message(client, http, fake, agent):
    client.agents.messages.create(agent_id=agent.id, input="one")
    client.agents.messages.create(agent_id=agent.id, input="two")
    system_id = history(client, agent.id)[0].id
    ctx = http.get(f"/v1/agents/{agent.id}/context")
    assert ctx.status_code == 200, ctx.text
    assert ctx.json()["num_messages"] == 5

    state = client.agents.messages.reset(agent.id)

    assert state is not None and state.id == agent.id
    assert state.message_ids is not None and len(state.message_ids) == 1
    stored = history(client, agent.id)
    assert types(stored) == ["system_message"]
    assert stored[0].id == state.message_ids[0] == system_id
    ctx = http.get(f"/v1/agents/{agent.id}/context")
    assert ctx.status_code == 200, ctx.text
    assert ctx.json()["num_messages"] == 1
    assert client.agents.retrieve(agent.id).message_ids == state.message_ids

    # the next turn starts from a clean context
    resp = client.agents.messages.create(agent_id=agent.id, input="fresh")
    assert of_type(resp.messages, "assistant_message")[0].content == "echo: fresh"
    last = fake.requests()[-1]
    assert [m["role"] for m in last["messages"]] == ["system", "user"]


# -- request errors --------------------------------------------------------------------------------


def test_empty_messages_is_422(client, fake, agent):
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.agents.messages.create(agent_id=agent.id, messages=[])
    assert_error_body(ei.value, 422)
    assert fake.requests() == []
    assert types(history(client, agent.id)) == ["system_message"]


def test_neither_input_nor_messages_is_422(client, fake, agent):
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.agents.messages.create(agent_id=agent.id)
    assert_error_body(ei.value, 422)
    assert fake.requests() == []
    assert types(history(client, agent.id)) == ["system_message"]


def test_message_to_unknown_agent_is_404(client, fake):
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.agents.messages.create(agent_id=random_id("agent"), input="hello?")
    assert_error_body(ei.value, 404)
    with pytest.raises(letta_client.NotFoundError):
        client.agents.messages.list(random_id("agent"))
    assert fake.requests() == []



# -- concurrency -----------------------------------------------------------------------------------


def test_concurrent_turns_on_one_agent_are_serialised(server, fake, agent, uid):
    fake.latency(200)
    texts = [f"alpha-{uid}", f"beta-{uid}"]
    barrier = threading.Barrier(len(texts))
    results: dict[str, object] = {}

    def send(text: str) -> None:
        c = server.client()
        try:
            barrier.wait(timeout=10)
            results[text] = c.agents.messages.create(agent_id=agent.id, input=text)
        except Exception as e:  # reported below
            results[text] = e
        finally:
            c.close()

    threads = [threading.Thread(target=send, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a turn did not finish within 30s"

    for text in texts:
        resp = results[text]
        assert not isinstance(resp, Exception), f"{text}: {resp!r}"
        assert [m.content for m in of_type(resp.messages, "assistant_message")] == [f"echo: {text}"]
        assert resp.stop_reason.stop_reason == "end_turn"

    with server.client() as c:
        stored = history(c, agent.id)
        in_context = c.agents.retrieve(agent.id).message_ids
    assert in_context == [m.id for m in stored], "both turns must stay in the agent's context"
    assert types(stored) == ["system_message"] + ["user_message", "assistant_message"] * 2
    pairs = [(text_of(stored[i]), text_of(stored[i + 1])) for i in (1, 3)]
    assert sorted(pairs) == sorted((t, f"echo: {t}") for t in texts), f"history interleaved: {pairs}"

    # the later turn ran after the earlier one and saw it
    requests = fake.requests()
    assert len(requests) == 2
    first_text = pairs[0][0]
    later = [(m["role"], llm_text(m)) for m in requests[1]["messages"][1:]]
    assert later[:2] == [("user", first_text), ("assistant", f"echo: {first_text}")], later
