"""Tool rules through letta-client 1.12.1: `tool_rules` at agent creation, enforced in the step loop.

What a user sees: the tools the model is offered in each request (recorded by the fake LLM), the
stop reason, and `[ToolConstraintError]` tool returns for calls the rules forbid. Every test
scripts the fake, so they run serially against the shared server.
"""

from __future__ import annotations

import letta_client
import pytest

from _helpers import (
    assert_error_body,
    create_tool,
    history,
    llm_tools,
    make_agent,
    of_type,
    tool_call_of,
    tool_returns,
    types,
)


def search_call(query: str = "q") -> dict:
    return {"tool_calls": [{"name": "conversation_search", "arguments": {"query": query}}]}


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def rules_of(agent) -> list[tuple]:
    return [(r.type, r.tool_name) for r in agent.tool_rules or []]


def test_run_first_offers_only_that_tool_in_the_first_request(client, fake, uid):
    agent = make_agent(client, f"runfirst-{uid}", tool_rules=[{"type": "run_first", "tool_name": "conversation_search"}])
    assert ("run_first", "conversation_search") in rules_of(client.agents.retrieve(agent.id))

    fake.push(search_call(), {"text": "searched"})
    resp = client.agents.messages.create(agent_id=agent.id, input="hello")

    assert types(resp.messages) == ["tool_call_message", "tool_return_message", "assistant_message"]
    assert tool_call_of(resp.messages[0]).name == "conversation_search"
    assert resp.messages[1].status == "success"
    requests = fake.requests()
    assert len(requests) == 2
    assert set(llm_tools(requests[0])) == {"conversation_search"}, sorted(llm_tools(requests[0]))
    # once it has run, the agent's other tools are back
    later = set(llm_tools(requests[1]))
    assert {"conversation_search", "memory_replace", "memory_insert"} <= later, sorted(later)


def test_exit_loop_ends_the_turn_after_the_tool(client, fake, uid):
    tool = create_tool(client, f"finish_{uid}", body=f'return "finished {uid}"')
    agent = make_agent(
        client, f"exit-{uid}", tool_ids=[tool.id], tool_rules=[{"type": "exit_loop", "tool_name": tool.name}]
    )
    fake.push(call(tool.name), {"text": "this reply must not be requested"})

    resp = client.agents.messages.create(agent_id=agent.id, input="wrap it up")

    assert types(resp.messages) == ["tool_call_message", "tool_return_message"], types(resp.messages)
    ret = resp.messages[1]
    assert ret.status == "success" and f"finished {uid}" in ret.tool_return, ret.tool_return
    assert resp.stop_reason.stop_reason == "tool_rule"
    assert resp.usage.step_count == 1
    assert len(fake.requests()) == 1
    assert len(fake.queued()) == 1, "the model must not be asked again after an exit_loop tool"
    stored = history(client, agent.id)
    assert types(stored) == ["system_message", "user_message", "tool_call_message", "tool_return_message"]

    # the run records the reason too
    runs = list(client.runs.list(agent_ids=[agent.id]))
    assert [(r.status, r.stop_reason) for r in runs] == [("completed", "tool_rule")]


def test_a_call_outside_the_children_is_a_constraint_error(client, fake, uid):
    child = create_tool(client, f"child_{uid}", body=f'return "child ran {uid}"')
    agent = make_agent(
        client,
        f"children-{uid}",
        memory_blocks=[{"label": "human", "value": f"Name: Ada {uid}"}],
        tool_ids=[child.id],
        tool_rules=[{"type": "constrain_child_tools", "tool_name": "conversation_search", "children": [child.name]}],
    )
    fake.push(
        search_call(),
        # not a child of conversation_search: refused, not run
        call("memory_insert", label="human", new_string=f"forbidden {uid}"),
        call(child.name),
        {"text": "done"},
    )

    resp = client.agents.messages.create(agent_id=agent.id, input="search then follow the rules")

    rets = tool_returns(resp)
    assert [tool_call_of(m).name for m in of_type(resp.messages, "tool_call_message")] == [
        "conversation_search",
        "memory_insert",
        child.name,
    ]
    assert [r.status for r in rets] == ["success", "error", "success"], [r.tool_return for r in rets]
    assert "[ToolConstraintError]" in rets[1].tool_return, rets[1].tool_return
    assert child.name in rets[1].tool_return, "the error should name the allowed tools"
    assert f"child ran {uid}" in rets[2].tool_return
    assert of_type(resp.messages, "assistant_message")[-1].content == "done"
    # the forbidden call did not run
    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == f"Name: Ada {uid}"

    requests = fake.requests()
    assert len(requests) == 4
    # after conversation_search only the children are offered, until one of them is called
    assert set(llm_tools(requests[1])) == {child.name}, sorted(llm_tools(requests[1]))
    assert set(llm_tools(requests[2])) == {child.name}, sorted(llm_tools(requests[2]))
    assert "memory_insert" in llm_tools(requests[3])


def test_max_count_per_step_stops_offering_the_tool(client, fake, uid):
    agent = make_agent(
        client,
        f"maxcount-{uid}",
        tool_rules=[{"type": "max_count_per_step", "tool_name": "conversation_search", "max_count_limit": 1}],
    )
    fake.push(search_call("one"), search_call("two"), {"text": "enough"})

    resp = client.agents.messages.create(agent_id=agent.id, input="search twice")

    rets = tool_returns(resp)
    assert [r.status for r in rets] == ["success", "error"], [r.tool_return for r in rets]
    assert "[ToolConstraintError]" in rets[1].tool_return, rets[1].tool_return
    assert of_type(resp.messages, "assistant_message")[-1].content == "enough"
    requests = fake.requests()
    assert len(requests) == 3
    assert "conversation_search" in llm_tools(requests[0])
    assert "conversation_search" not in llm_tools(requests[1]), sorted(llm_tools(requests[1]))
    assert "conversation_search" not in llm_tools(requests[2])
    assert "memory_insert" in llm_tools(requests[1]), "the other tools stay offered"

    # the count is per request: the next message may search again
    fake.push(search_call("three"), {"text": "again"})
    resp = client.agents.messages.create(agent_id=agent.id, input="new request")
    assert [r.status for r in tool_returns(resp)] == ["success"]
    assert "conversation_search" in llm_tools(fake.requests()[3])


def test_parent_last_tool_offers_children_only_right_after_the_parent(client, fake, uid):
    child = create_tool(client, f"after_search_{uid}", body=f'return "child {uid}"')
    agent = make_agent(
        client,
        f"parent-{uid}",
        tool_ids=[child.id],
        tool_rules=[{"type": "parent_last_tool", "tool_name": "conversation_search", "children": [child.name]}],
    )
    fake.push(search_call(), call(child.name), {"text": "done"})

    resp = client.agents.messages.create(agent_id=agent.id, input="go")

    assert [r.status for r in tool_returns(resp)] == ["success", "success"]
    requests = fake.requests()
    assert len(requests) == 3
    assert child.name not in llm_tools(requests[0]) and "conversation_search" in llm_tools(requests[0])
    assert set(llm_tools(requests[1])) == {child.name}, sorted(llm_tools(requests[1]))
    assert child.name not in llm_tools(requests[2]), "the child is only offered right after its parent"


def test_conditional_rule_picks_the_next_tool_from_the_output(client, fake, uid):
    decide = create_tool(client, f"decide_{uid}", "answer: str", "return answer")
    yes = create_tool(client, f"yes_{uid}", body='return "took yes"')
    no = create_tool(client, f"no_{uid}", body='return "took no"')
    other = create_tool(client, f"other_{uid}", body='return "took other"')
    rule = {
        "type": "conditional",
        "tool_name": decide.name,
        "child_output_mapping": {"yes": yes.name, "no": no.name},
        "default_child": other.name,
    }
    agent = make_agent(client, f"cond-{uid}", tool_ids=[decide.id, yes.id, no.id, other.id], tool_rules=[rule])

    for answer, expected in (("no", no.name), ("yes", yes.name), ("maybe", other.name)):
        fake.reset()
        fake.push(call(decide.name, answer=answer), call(expected), {"text": "ok"})
        resp = client.agents.messages.create(agent_id=agent.id, input=f"decide {answer}")
        assert [r.status for r in tool_returns(resp)] == ["success", "success"], answer
        requests = fake.requests()
        assert len(requests) == 3, answer
        assert set(llm_tools(requests[1])) == {expected}, (answer, sorted(llm_tools(requests[1])))


def test_continue_loop_keeps_a_heartbeat_agent_going(client, fake, uid):
    # a custom tool: Letta's base rules already make the built-in tools continue_loop on V2 agents
    tool = create_tool(client, f"step_{uid}", body=f'return "stepped {uid}"')
    quiet = {"tool_calls": [{"name": tool.name, "arguments": {"request_heartbeat": False}}]}
    send = {"tool_calls": [{"name": "send_message", "arguments": {"message": "done"}}]}

    # without the rule, a call without request_heartbeat ends the turn
    plain = make_agent(client, f"noloop-{uid}", agent_type="memgpt_v2_agent", tool_ids=[tool.id])
    fake.push(quiet, send)
    resp = client.agents.messages.create(agent_id=plain.id, input="step")
    assert [r.status for r in tool_returns(resp)] == ["success"]
    assert len(fake.requests()) == 1

    fake.reset()
    agent = make_agent(
        client,
        f"loop-{uid}",
        agent_type="memgpt_v2_agent",
        tool_ids=[tool.id],
        tool_rules=[{"type": "continue_loop", "tool_name": tool.name}],
    )
    fake.push(quiet, send)
    resp = client.agents.messages.create(agent_id=agent.id, input="step")
    assert [r.status for r in tool_returns(resp)] == ["success"]
    assert len(fake.requests()) == 2, "continue_loop must ask the model again"
    assert [m.content for m in of_type(resp.messages, "assistant_message")] == ["done"]
    assert resp.stop_reason.stop_reason == "end_turn"


def test_required_before_exit_keeps_the_turn_going(client, fake, uid):
    agent = make_agent(
        client, f"required-{uid}", tool_rules=[{"type": "required_before_exit", "tool_name": "conversation_search"}]
    )
    fake.push({"text": "bye already"}, search_call(), {"text": "now done"})

    resp = client.agents.messages.create(agent_id=agent.id, input="finish")

    requests = fake.requests()
    assert len(requests) == 3, "a turn may not end before the required tool ran"
    assert [r.status for r in tool_returns(resp)] == ["success"]
    assert of_type(resp.messages, "assistant_message")[-1].content == "now done"
    assert resp.stop_reason.stop_reason == "end_turn"
    # the model was told why it goes on
    told = " ".join(str(m.get("content")) for m in requests[1]["messages"][-2:])
    assert "conversation_search" in told, requests[1]["messages"][-2:]


@pytest.mark.parametrize(
    "rule",
    [
        {"type": "no_such_rule", "tool_name": "conversation_search"},
        {"type": "run_first"},  # no tool_name
        {"type": "max_count_per_step", "tool_name": "conversation_search"},  # no max_count_limit
        {"type": "constrain_child_tools", "tool_name": "conversation_search"},  # no children
    ],
)
def test_invalid_rule_is_422_and_creates_nothing(client, fake, uid, rule):
    name = f"badrule-{uid}"
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        make_agent(client, name, tool_rules=[rule])
    assert_error_body(ei.value, 422)
    assert list(client.agents.list(name=name)) == []
    assert fake.requests() == []
