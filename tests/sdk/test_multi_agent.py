"""Multi-agent tools through letta-client 1.12.1: one agent messages others with
`send_message_to_agent_and_wait_for_reply`, `send_message_to_agent_async` and
`send_message_to_agents_matching_tags` (attached by `include_multi_agent_tools`).

Each agent's model calls are scripted with `fake.system_rule(<text only its persona has>, ...)`,
so that the sender and its targets get their own answers whatever order their requests reach
the fake in. The targets' turns are runs of their own; what a user sees is the sender's tool
return, the target's history and runs. Every test scripts the fake, so they run serially.
"""

from __future__ import annotations

import ast
import time

import pytest

from _helpers import HUMAN, history, make_agent, of_type, random_id, text_of, tool_call_of, types

WAIT = "send_message_to_agent_and_wait_for_reply"
ASYNC = "send_message_to_agent_async"
TAGS = "send_message_to_agents_matching_tags"


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def agent_with_persona(client, name: str, persona: str, multi_agent: bool = True, **kwargs):
    """An agent whose persona block holds `persona`, the key of its scripted answers. The
    multi-agent tools come with it unless `multi_agent=False` (the spec's
    `include_multi_agent_tools`, which letta-client 1.12.1 does not name: sent as an extra key)."""
    if multi_agent:
        kwargs["extra_body"] = {"include_multi_agent_tools": True}
    return make_agent(
        client, name, memory_blocks=[dict(HUMAN), {"label": "persona", "value": f"I am {persona}."}], **kwargs
    )


def incoming(sender_id: str, message: str) -> str:
    return (
        f"[Incoming message from agent with ID '{sender_id}' - your response will be delivered "
        f"to the sender] {message}"
    )


def tool_return_of(resp):
    rets = of_type(resp.messages, "tool_return_message")
    assert len(rets) == 1, types(resp.messages)
    return rets[0]


def returned(ret) -> str:
    """What the tool returned: the API shows the message of Letta's packed return
    (`{"status", "message", "time"}`), not the package."""
    return ret.tool_return


@pytest.fixture
def patient(server):
    """A client that gives up after 30 s, so that a hang fails the test instead of the suite."""
    c = server.client(timeout=30.0)
    yield c
    c.close()


def test_include_multi_agent_tools_attaches_the_three_tools_with_letta_rules(client, uid):
    v1 = agent_with_persona(client, f"ma-tools-{uid}", f"tools-{uid}")
    names = sorted(t.name for t in v1.tools)
    assert names == sorted(["conversation_search", "memory_insert", "memory_replace", WAIT, TAGS, ASYNC]), names
    multi = [t for t in v1.tools if t.name in (WAIT, TAGS, ASYNC)]
    assert {t.tool_type for t in multi} == {"letta_multi_agent_core"}
    # a v1 agent gets no base rules, so nothing rules on these tools
    assert not v1.tool_rules

    v2 = agent_with_persona(client, f"ma-tools2-{uid}", f"tools2-{uid}", agent_type="memgpt_v2_agent")
    rules = {(r.type, r.tool_name) for r in v2.tool_rules}
    # the one-way notification ends the turn; calls that wait for replies get no rule
    assert ("exit_loop", ASYNC) in rules, rules
    assert not {r for r in rules if r[1] in (WAIT, TAGS)}, rules
    assert ("exit_loop", "send_message") in rules

    plain = make_agent(client, f"ma-none-{uid}")
    assert not {t.name for t in plain.tools} & {WAIT, TAGS, ASYNC}


def test_wait_for_reply_runs_the_target_and_returns_its_answer(client, fake, uid):
    sender = agent_with_persona(client, f"ma-sender-{uid}", f"sender-{uid}")
    target = agent_with_persona(client, f"ma-target-{uid}", f"target-{uid}")
    fake.system_rule(f"sender-{uid}", call(WAIT, message="What is two plus two?", other_agent_id=target.id), times=1)
    fake.system_rule(f"target-{uid}", {"text": "It is four."}, times=1)
    fake.system_rule(f"sender-{uid}", {"text": "The other agent says four."}, times=1)

    resp = client.agents.messages.create(agent_id=sender.id, input="ask the other agent")

    assert types(resp.messages) == ["tool_call_message", "tool_return_message", "assistant_message"]
    ret = tool_return_of(resp)
    assert ret.status == "success", ret.tool_return
    assert returned(ret) == f"{{'agent_id': '{target.id}', 'response': ['It is four.']}}"
    assert ast.literal_eval(returned(ret)) == {"agent_id": target.id, "response": ["It is four."]}
    assert resp.stop_reason.stop_reason == "end_turn"

    # the target got a system message naming the sender, and answered it
    got = history(client, target.id)
    assert types(got) == ["system_message", "system_message", "assistant_message"], types(got)
    delivered = got[1]
    assert text_of(delivered) == incoming(sender.id, "What is two plus two?")
    assert delivered.sender_id == sender.id
    assert delivered.name == sender.name
    assert got[2].content == "It is four."

    # as a run of the target's own, completed, which holds those messages
    runs = list(client.runs.list(agent_ids=[target.id]))
    assert [(r.status, r.stop_reason) for r in runs] == [("completed", "end_turn")]
    assert got[2].run_id == runs[0].id
    # the sender's run is another one
    sender_runs = list(client.runs.list(agent_ids=[sender.id]))
    assert len(sender_runs) == 1 and sender_runs[0].id != runs[0].id


def test_a_target_without_an_answer_replies_no_response(client, fake, uid):
    sender = agent_with_persona(client, f"ma-s-{uid}", f"quiet-sender-{uid}")
    target = agent_with_persona(client, f"ma-t-{uid}", f"quiet-target-{uid}")
    fake.system_rule(f"quiet-sender-{uid}", call(WAIT, message="anyone there?", other_agent_id=target.id), times=1)
    # the target edits its memory and stops without a word for the sender
    fake.system_rule(f"quiet-target-{uid}", call("memory_insert", label="human", new_string="pinged"), times=1)
    fake.system_rule(f"quiet-target-{uid}", {"text": ""}, times=1)
    fake.system_rule(f"quiet-sender-{uid}", {"text": "no answer"}, times=1)

    resp = client.agents.messages.create(agent_id=sender.id, input="ping it")

    assert returned(tool_return_of(resp)) == f"{{'agent_id': '{target.id}', 'response': ['<no response>']}}"


def test_a_heartbeat_target_replies_through_send_message(client, fake, uid):
    sender = agent_with_persona(client, f"ma-s2-{uid}", f"asker-{uid}")
    target = agent_with_persona(client, f"ma-t2-{uid}", f"oldschool-{uid}", agent_type="memgpt_v2_agent")
    fake.system_rule(f"asker-{uid}", call(WAIT, message="status?", other_agent_id=target.id), times=1)
    fake.system_rule(f"oldschool-{uid}", call("send_message", message="All systems nominal."), times=1)
    fake.system_rule(f"asker-{uid}", {"text": "fine"}, times=1)

    resp = client.agents.messages.create(agent_id=sender.id, input="check on it")

    assert ast.literal_eval(returned(tool_return_of(resp))) == {
        "agent_id": target.id,
        "response": ["All systems nominal."],
    }


def test_an_unknown_target_is_a_tool_error_not_a_failed_request(client, fake, uid):
    sender = agent_with_persona(client, f"ma-lost-{uid}", f"lost-{uid}")
    nobody = random_id("agent")
    fake.system_rule(f"lost-{uid}", call(WAIT, message="hello?", other_agent_id=nobody), times=1)
    fake.system_rule(f"lost-{uid}", {"text": "nobody there"}, times=1)

    resp = client.agents.messages.create(agent_id=sender.id, input="message a ghost")

    ret = tool_return_of(resp)
    assert ret.status == "error"
    assert f"Agent {nobody} not found" in ret.tool_return, ret.tool_return
    assert resp.stop_reason.stop_reason == "end_turn"
    assert of_type(resp.messages, "assistant_message")[0].content == "nobody there"


def test_a_call_back_to_the_waiting_sender_ends_with_a_tool_error(patient, fake, uid):
    a = agent_with_persona(patient, f"ma-a-{uid}", f"first-{uid}")
    b = agent_with_persona(patient, f"ma-b-{uid}", f"second-{uid}")
    fake.system_rule(f"first-{uid}", call(WAIT, message="question for you", other_agent_id=b.id), times=1)
    # b, while a waits on it, asks a back: a cycle
    fake.system_rule(f"second-{uid}", call(WAIT, message="question back", other_agent_id=a.id), times=1)
    fake.system_rule(f"second-{uid}", {"text": "I could not ask back."}, times=1)
    fake.system_rule(f"first-{uid}", {"text": "done"}, times=1)

    started = time.monotonic()
    resp = patient.agents.messages.create(agent_id=a.id, input="start the chain")
    assert time.monotonic() - started < 20

    ret = tool_return_of(resp)
    assert ret.status == "success"
    assert ast.literal_eval(returned(ret)) == {"agent_id": b.id, "response": ["I could not ask back."]}
    # b's own call was refused with an error it could read
    b_rets = of_type(history(patient, b.id), "tool_return_message")
    assert len(b_rets) == 1 and b_rets[0].status == "error"
    assert "would wait on itself" in b_rets[0].tool_return, b_rets[0].tool_return
    assert f"{b.id} -> {a.id} -> {b.id}" in b_rets[0].tool_return, b_rets[0].tool_return
    # a never got the question back
    assert not [m for m in history(patient, a.id) if m.message_type == "system_message" and m.sender_id]


def test_waiting_on_oneself_is_a_tool_error(patient, fake, uid):
    a = agent_with_persona(patient, f"ma-self-{uid}", f"narcissus-{uid}")
    fake.system_rule(f"narcissus-{uid}", call(WAIT, message="hello me", other_agent_id=a.id), times=1)
    fake.system_rule(f"narcissus-{uid}", {"text": "cannot talk to myself"}, times=1)

    resp = patient.agents.messages.create(agent_id=a.id, input="talk to yourself")

    ret = tool_return_of(resp)
    assert ret.status == "error"
    assert "would wait on itself" in ret.tool_return and "yourself" in ret.tool_return, ret.tool_return
    assert of_type(resp.messages, "assistant_message")[0].content == "cannot talk to myself"
    assert len(list(patient.runs.list(agent_ids=[a.id]))) == 1


def test_async_send_returns_at_once_and_the_target_answers_later(client, fake, uid):
    sender = agent_with_persona(client, f"ma-async-s-{uid}", f"notifier-{uid}")
    target = agent_with_persona(client, f"ma-async-t-{uid}", f"listener-{uid}")
    fake.system_rule(f"notifier-{uid}", call(ASYNC, message="FYI the build is green", other_agent_id=target.id), times=1)
    fake.system_rule(f"notifier-{uid}", {"text": "told them"}, times=1)
    fake.system_rule(f"listener-{uid}", {"text": "noted", "delay_ms": 2500}, times=1)

    resp = client.agents.messages.create(agent_id=sender.id, input="notify the other agent")

    ret = tool_return_of(resp)
    assert ret.status == "success" and returned(ret) == "Successfully sent message"
    # the target's run exists and has not finished: the sender did not wait for it
    runs = list(client.runs.list(agent_ids=[target.id]))
    assert len(runs) == 1 and runs[0].status in ("created", "running"), runs
    assert runs[0].background is False

    deadline = time.monotonic() + 20
    while client.runs.retrieve(runs[0].id).status != "completed":
        assert time.monotonic() < deadline, "the target's run did not complete"
        time.sleep(0.1)
    got = history(client, target.id)
    assert types(got) == ["system_message", "system_message", "assistant_message"], types(got)
    assert text_of(got[1]) == (
        f"[Incoming message from agent with ID '{sender.id}' - this is a one-way notification; if "
        "you need to respond, use an agent-to-agent messaging tool if available] FYI the build is green"
    )
    assert got[1].sender_id == sender.id
    assert got[2].content == "noted"


def test_tags_select_targets_and_their_replies_come_back_together(client, fake, uid):
    team, red, blue = f"team-{uid}", f"red-{uid}", f"blue-{uid}"
    # the sender has matching tags too: it is never its own target
    sender = agent_with_persona(client, f"ma-tag-s-{uid}", f"captain-{uid}", tags=[team, red])
    first = agent_with_persona(client, f"ma-tag-1-{uid}", f"redplayer-{uid}", tags=[team, red])
    second = agent_with_persona(client, f"ma-tag-2-{uid}", f"blueplayer-{uid}", tags=[blue, team])
    agent_with_persona(client, f"ma-tag-3-{uid}", f"benched-{uid}", tags=[team])  # none of match_some
    agent_with_persona(client, f"ma-tag-4-{uid}", f"stranger-{uid}", tags=[red])  # not all of match_all
    delay = 2000
    fake.system_rule(f"captain-{uid}", call(TAGS, message="report in", match_all=[team], match_some=[red, blue]), times=1)
    fake.system_rule(f"redplayer-{uid}", {"text": "red here", "delay_ms": delay}, times=1)
    fake.system_rule(f"blueplayer-{uid}", {"text": "blue here", "delay_ms": delay}, times=1)
    fake.system_rule(f"captain-{uid}", {"text": "all reported"}, times=1)

    started = time.monotonic()
    resp = client.agents.messages.create(agent_id=sender.id, input="roll call")
    elapsed = time.monotonic() - started

    ret = tool_return_of(resp)
    assert ret.status == "success", ret.tool_return
    assert ast.literal_eval(returned(ret)) == [
        {"agent_id": first.id, "response": ["red here"]},
        {"agent_id": second.id, "response": ["blue here"]},
    ]
    # both targets were asked at once: two slow answers took about one answer's time
    assert elapsed < 2 * delay / 1000 - 0.3, f"{elapsed:.2f}s: the targets were not messaged concurrently"
    for target in (first, second):
        got = history(client, target.id)
        assert text_of(got[1]) == incoming(sender.id, "report in")
        assert got[1].sender_id == sender.id
    assert of_type(resp.messages, "assistant_message")[0].content == "all reported"


def test_tags_matching_nobody_return_an_empty_list(client, fake, uid):
    sender = agent_with_persona(client, f"ma-tag-none-{uid}", f"loner-{uid}", tags=[f"solo-{uid}"])
    fake.system_rule(
        f"loner-{uid}", call(TAGS, message="anyone?", match_all=[f"solo-{uid}"], match_some=[]), times=1
    )
    fake.system_rule(f"loner-{uid}", {"text": "alone"}, times=1)

    resp = client.agents.messages.create(agent_id=sender.id, input="find peers")

    ret = tool_return_of(resp)
    assert ret.status == "success" and returned(ret) == "[]"
    assert tool_call_of(of_type(resp.messages, "tool_call_message")[0]).name == TAGS
