"""Agent types through letta-client 1.12.1: what `react_agent`, `workflow_agent` and
`sleeptime_agent` get at creation and how their turns go.

What a user sees: the agent's tools and rules, the tools and prompt its model is offered (the fake
LLM records each request), the stop reason, and the stored history. Every test scripts the
fake, so they run serially against the shared server.
"""

from __future__ import annotations

import json

from _helpers import (
    create_tool,
    history,
    llm_messages,
    llm_text,
    llm_tools,
    make_agent,
    of_type,
    text_of,
    tool_call_of,
    types,
)

SLEEPTIME_TOOLS = {"memory_replace", "memory_insert", "memory_rethink", "memory_finish_edits"}


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def system_of(request: dict) -> str:
    return llm_text(llm_messages(request, "system")[0])


def test_react_agent_gets_no_default_tools_and_no_memory_in_its_prompt(client, fake, uid):
    bare = make_agent(client, f"react-bare-{uid}", agent_type="react_agent")
    assert bare.tools == []

    tool = create_tool(client, f"lookup_{uid}", params="query: str", body='return "found " + query')
    agent = make_agent(
        client,
        f"react-{uid}",
        agent_type="react_agent",
        tool_ids=[tool.id],
        memory_blocks=[{"label": "persona", "value": f"I am reactive {uid}."}],
    )
    assert [t.name for t in agent.tools] == [tool.name]
    fake.push(call(tool.name, query="a", request_heartbeat=True), call(tool.name, query="b", request_heartbeat=False))

    resp = client.agents.messages.create(agent_id=agent.id, input="look two things up")

    calls = of_type(resp.messages, "tool_call_message")
    assert [tool_call_of(c).name for c in calls] == [tool.name, tool.name]
    # Listed as Letta lists them: the message of each packed return.
    assert [r.tool_return for r in of_type(resp.messages, "tool_return_message")] == [
        "found a",
        "found b",
    ]
    assert resp.stop_reason.stop_reason == "end_turn"
    requests = fake.requests()
    assert len(requests) == 2
    for request in requests:
        offered = llm_tools(request)
        assert set(offered) == {tool.name}
        # a heartbeat loop: the flag is offered and every answer must be a call
        params = offered[tool.name]["parameters"]
        assert "request_heartbeat" in params["properties"] and "request_heartbeat" in params["required"]
        assert request["tool_choice"] != "auto", request["tool_choice"]
    system = system_of(requests[0])
    assert system.startswith("You are a tool-using agent"), system[:200]
    assert f"reactive {uid}" not in system and "<memory_blocks>" not in system


def test_workflow_agent_starts_each_request_from_its_system_message(client, fake, uid):
    agent = make_agent(
        client,
        f"workflow-{uid}",
        agent_type="workflow_agent",
        message_buffer_autoclear=False,  # forced on for this type, whatever the request says
        tools=["conversation_search", "send_message"],
        memory_blocks=[{"label": "persona", "value": f"I follow steps {uid}."}],
    )
    assert agent.message_buffer_autoclear is True
    assert sorted(t.name for t in agent.tools) == ["conversation_search", "send_message"]

    fake.push(call("send_message", message="first task done"))
    first = client.agents.messages.create(agent_id=agent.id, input=f"task one: count the zebras {uid}")
    assert of_type(first.messages, "assistant_message")[0].content == "first task done"

    fake.push(
        call("conversation_search", query=f"zebras {uid}", request_heartbeat=True),
        call("send_message", message="task one was about zebras"),
    )
    second = client.agents.messages.create(agent_id=agent.id, input="task two: what was task one?")

    requests = fake.requests()
    assert len(requests) == 3
    # the second request's first call sees the system message and its own input only
    opening = requests[1]
    assert [m["role"] for m in opening["messages"]] == ["system", "user"], opening["messages"]
    assert "zebras" not in json.dumps(opening["messages"])
    system = system_of(opening)
    assert system.startswith("You are a workflow agent"), system[:200]
    assert f"I follow steps {uid}" not in system
    # its later step sees what this request did (the search's result), still not the earlier
    # request itself
    roles = [m["role"] for m in requests[2]["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"], roles
    # the earlier request stays stored, listed and searchable
    found = of_type(second.messages, "tool_return_message")[0]
    assert found.status == "success" and f"count the zebras {uid}" in found.tool_return, found.tool_return
    users = [text_of(m) for m in of_type(history(client, agent.id), "user_message")]
    assert any(f"task one: count the zebras {uid}" in t for t in users), users
    assert any("task two: what was task one?" in t for t in users), users
    assert of_type(second.messages, "assistant_message")[0].content == "task one was about zebras"


def test_sleeptime_agent_gets_its_four_tools_and_ends_on_finish_edits(client, fake, uid):
    agent = make_agent(client, f"sleeper-{uid}", agent_type="sleeptime_agent")
    assert {t.name for t in agent.tools} == SLEEPTIME_TOOLS
    assert {(r.type, r.tool_name) for r in agent.tool_rules} == {
        ("continue_loop", "memory_replace"),
        ("continue_loop", "memory_insert"),
        ("continue_loop", "memory_rethink"),
        ("exit_loop", "memory_finish_edits"),
    }
    fake.push(
        call("memory_insert", label="human", new_string=f"Likes tea {uid}"),
        call("memory_finish_edits"),
        {"text": "this reply must not be requested"},
    )

    resp = client.agents.messages.create(agent_id=agent.id, input="transcript: user: I like tea")

    assert types(resp.messages) == [
        "tool_call_message",
        "tool_return_message",
        "tool_call_message",
        "tool_return_message",
    ], types(resp.messages)
    assert resp.stop_reason.stop_reason == "tool_rule"
    assert len(fake.queued()) == 1, "the model must not be asked again after memory_finish_edits"
    offered = llm_tools(fake.requests()[0])
    assert set(offered) == SLEEPTIME_TOOLS
    # a native loop: no heartbeat flag on its tools
    assert all("request_heartbeat" not in t["parameters"].get("properties", {}) for t in offered.values())
    human = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert f"Likes tea {uid}" in human.value


def test_a_heartbeat_agent_answering_without_a_tool_call_stops_with_no_tool_call(client, fake, uid):
    agent = make_agent(client, f"v2-plain-{uid}", agent_type="memgpt_v2_agent")
    fake.text(f"just musing {uid}")

    resp = client.agents.messages.create(agent_id=agent.id, input="hello")

    assert resp.stop_reason.stop_reason == "no_tool_call"
    # the model was told to call a tool; its text is kept as the step's inner thoughts
    assert fake.requests()[0]["tool_choice"] == "required"
    assert [m.reasoning for m in of_type(resp.messages, "reasoning_message")] == [f"just musing {uid}"]
    assert not of_type(resp.messages, "assistant_message")
    runs = list(client.runs.list(agent_ids=[agent.id]))
    assert [(r.status, r.stop_reason) for r in runs] == [("failed", "no_tool_call")]
