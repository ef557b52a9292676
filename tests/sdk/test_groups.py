"""Multi-agent groups: `/v1/groups/...`, `/v1/agents/{id}/groups` and group messaging (issue 27).

letta-client 1.12.1 has no groups resource, so these tests send raw JSON with the `http` fixture;
agents are made with the SDK. The messaging routes (`POST /v1/groups/{id}/messages` and
`/stream`) are those of older SDKs.

Each agent's model answers are scripted by a marker only its persona holds
(`fake.system_rule(marker, reply)`): the fake matches it against a request's system text.
Replies never contain a marker, since the other participants get them as system messages.
"""

from __future__ import annotations

import json

import pytest

from _helpers import (
    HUMAN,
    assert_http_error,
    assert_id,
    history,
    llm_messages,
    llm_text,
    make_agent,
    random_id,
)

# `Group`'s properties in the 0.16.7 spec, in its order.
GROUP_FIELDS = [
    "id", "manager_type", "agent_ids", "description", "project_id", "template_id",
    "base_template_id", "deployment_id", "shared_block_ids", "manager_agent_id",
    "termination_token", "max_turns", "sleeptime_agent_frequency", "turns_counter",
    "last_processed_message_id", "max_message_buffer_length", "min_message_buffer_length",
    "hidden",
]


# -- helpers -------------------------------------------------------------------------------------


def marker(uid: str, who: str) -> str:
    return f"persona-marker-{who}-{uid}"


def member(client, uid: str, who: str, **kwargs):
    """An agent named `<who>-<uid>` whose persona holds its marker."""
    persona = {"label": "persona", "value": f"I am {marker(uid, who)}."}
    return make_agent(client, f"{who}-{uid}", memory_blocks=[dict(HUMAN), persona], **kwargs)


def create_group(http, agent_ids: list[str], description: str = "team", **body) -> dict:
    r = http.post("/v1/groups/", json={"agent_ids": agent_ids, "description": description, **body})
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    return r.json()


def ok(r) -> object:
    assert r.status_code == 200, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def say(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def send(http, group_id: str, text: str, **body) -> dict:
    return ok(http.post(f"/v1/groups/{group_id}/messages", json={"messages": say(text), **body}))


def replies(response: dict) -> list[str]:
    return [m["content"] for m in response["messages"] if m["message_type"] == "assistant_message"]


def requests_of(fake, who_marker: str) -> list[dict]:
    """The recorded chat requests whose system prompt holds the marker."""
    out = []
    for req in fake.requests():
        systems = llm_messages(req, "system")
        if systems and who_marker in llm_text(systems[0]):
            out.append(req)
    return out


def dialogue(request: dict) -> list[tuple[str, str]]:
    """(role, text) of a recorded request's messages after its system prompt."""
    return [(m["role"], llm_text(m)) for m in request["messages"][1:]]


def group_messages(http, group_id: str, **params) -> list[dict]:
    return ok(http.get(f"/v1/groups/{group_id}/messages", params=params))


def sse_payloads(http, path: str, body: dict) -> list:
    """The `data:` payloads of a stream, `[DONE]` as the string; `event: error` frames as
    `("error", payload)`."""
    out: list = []
    with http.stream("POST", path, json=body) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream"), r.headers
        raw = r.read().decode()
    for block in raw.strip("\n").split("\n\n"):
        lines = [line for line in block.split("\n") if not line.startswith(":")]
        if not lines:
            continue
        data = [line[len("data: "):] for line in lines if line.startswith("data: ")]
        assert len(data) == 1, block
        if data[0] == "[DONE]":
            out.append("[DONE]")
        elif any(line == "event: error" for line in lines):
            out.append(("error", json.loads(data[0])))
        else:
            out.append(json.loads(data[0]))
    return out


# -- CRUD ------------------------------------------------------------------------------------------


def test_a_group_is_created_read_listed_and_deleted(http, client, uid):
    a, b = member(client, uid, "a"), member(client, uid, "b")
    before = ok(http.get("/v1/groups/count"))
    group = create_group(http, [b.id, a.id], "the team", project_id=f"p-{uid}")
    assert_id(group["id"], "group")
    assert list(group) == GROUP_FIELDS
    assert group["manager_type"] == "round_robin"
    assert group["agent_ids"] == [b.id, a.id], "members keep the order given"
    assert group["description"] == "the team" and group["project_id"] == f"p-{uid}"
    assert group["shared_block_ids"] == [] and group["manager_agent_id"] is None
    assert ok(http.get(f"/v1/groups/{group['id']}")) == group
    assert ok(http.get("/v1/groups", params={"project_id": f"p-{uid}"})) == [group]
    assert ok(http.get("/v1/groups/count")) == before + 1

    gone = ok(http.delete(f"/v1/groups/{group['id']}"))
    assert gone == {"message": f"Group id={group['id']} successfully deleted"}
    assert_http_error(http.get(f"/v1/groups/{group['id']}"), 404)
    assert_http_error(http.delete(f"/v1/groups/{group['id']}"), 404)
    # Its agents stay.
    assert client.agents.retrieve(a.id).id == a.id
    assert_http_error(http.get("/v1/groups/group-not-an-id"), 422)


def test_group_lists_filter_hide_and_page(http, client, uid):
    a = member(client, uid, "a")
    project = f"p-{uid}"
    made = [create_group(http, [a.id], f"g{i}", project_id=project)["id"] for i in range(3)]
    dynamic = create_group(
        http, [a.id], "dyn", project_id=project,
        manager_config={"manager_type": "dynamic", "manager_agent_id": a.id},
    )
    hidden = create_group(http, [a.id], "hidden", project_id=project, hidden=True)

    listed = ok(http.get("/v1/groups/", params={"project_id": project}))
    assert [g["id"] for g in listed] == made + [dynamic["id"]], "oldest first by default"
    shown = ok(http.get("/v1/groups/", params={"project_id": project, "show_hidden_groups": "true"}))
    assert shown[-1]["id"] == hidden["id"] and shown[-1]["hidden"] is True
    rr = ok(http.get("/v1/groups/", params={"project_id": project, "manager_type": "round_robin"}))
    assert [g["id"] for g in rr] == made
    page = ok(http.get("/v1/groups/", params={"project_id": project, "limit": 2, "after": made[0]}))
    assert [g["id"] for g in page] == made[1:3]
    desc = ok(http.get("/v1/groups/", params={"project_id": project, "order": "desc", "limit": 2}))
    assert [g["id"] for g in desc] == [dynamic["id"], made[2]]
    assert_http_error(http.get("/v1/groups/", params={"after": random_id("group")}), 404)
    assert_http_error(http.get("/v1/groups/", params={"manager_type": "swarmish"}), 422)


def test_creation_checks_what_it_names(http, client, uid):
    a, b = member(client, uid, "a"), member(client, uid, "b")
    post = lambda body: http.post("/v1/groups/", json={"description": "d", **body})  # noqa: E731
    assert_http_error(post({"agent_ids": [a.id, random_id("agent")]}), 404)
    supervisor = {"manager_type": "supervisor", "manager_agent_id": random_id("agent")}
    assert_http_error(post({"agent_ids": [a.id], "manager_config": supervisor}), 404)
    assert_http_error(post({"agent_ids": [a.id], "shared_block_ids": [random_id("block")]}), 404)
    assert_http_error(post({"agent_ids": [a.id], "manager_config": {"manager_type": "swarm"}}), 422)
    assert_http_error(post({"agent_ids": ["agent-nope"]}), 422)

    dynamic = {"manager_type": "dynamic", "manager_agent_id": b.id}
    r = post({"agent_ids": [a.id, a.id], "manager_config": dynamic})
    assert_http_error(r, 400)
    assert "Duplicate agent ids" in r.json()["detail"]
    twin = make_agent(client, f"a-{uid}")
    r = post({"agent_ids": [a.id, twin.id], "manager_config": dynamic})
    assert_http_error(r, 400)
    assert "Duplicate agent names" in r.json()["detail"]
    # A round robin group may hold agents of one name.
    ok(post({"agent_ids": [a.id, twin.id]}))

    voice = {"manager_type": "voice_sleeptime", "manager_agent_id": b.id}
    for lengths, why in [
        ({"max_message_buffer_length": 10}, "must be provided together"),
        ({"max_message_buffer_length": 10, "min_message_buffer_length": 4}, "greater than 4"),
        ({"max_message_buffer_length": 6, "min_message_buffer_length": 8}, "must be greater than"),
    ]:
        r = post({"agent_ids": [a.id], "manager_config": {**voice, **lengths}})
        assert_http_error(r, 400)
        assert why in r.json()["detail"], r.json()
    made = ok(post({"agent_ids": [a.id], "manager_config": {
        **voice, "max_message_buffer_length": 12, "min_message_buffer_length": 6}}))
    assert (made["max_message_buffer_length"], made["min_message_buffer_length"]) == (12, 6)
    dyn = ok(post({"agent_ids": [a.id], "manager_config": dynamic}))
    assert dyn["termination_token"] == "DONE!" and dyn["manager_agent_id"] == b.id


def test_modify_changes_what_it_names_but_not_the_kind(http, client, uid):
    a, b, c = (member(client, uid, w) for w in "abc")
    group = create_group(http, [a.id, b.id])
    gid = group["id"]
    changed = ok(http.patch(f"/v1/groups/{gid}", json={
        "description": "renamed", "agent_ids": [c.id, a.id],
        "manager_config": {"manager_type": "round_robin", "max_turns": 4},
    }))
    assert changed["description"] == "renamed"
    assert changed["agent_ids"] == [c.id, a.id]
    assert changed["max_turns"] == 4
    # Empty values leave things as they are (Letta reads them as "not given").
    same = ok(http.patch(f"/v1/groups/{gid}", json={"agent_ids": [], "description": ""}))
    assert same["agent_ids"] == [c.id, a.id] and same["description"] == "renamed"

    r = http.patch(f"/v1/groups/{gid}", json={
        "manager_config": {"manager_type": "supervisor", "manager_agent_id": a.id}})
    assert_http_error(r, 400)
    assert r.json()["detail"] == "Cannot change group pattern after creation"
    assert_http_error(http.patch(f"/v1/groups/{gid}", json={"agent_ids": [random_id("agent")]}), 404)
    assert_http_error(http.patch(f"/v1/groups/{random_id('group')}", json={}), 404)
    assert ok(http.get(f"/v1/groups/{gid}"))["agent_ids"] == [c.id, a.id]

    voice = create_group(http, [a.id], manager_config={
        "manager_type": "voice_sleeptime", "manager_agent_id": b.id,
        "max_message_buffer_length": 12, "min_message_buffer_length": 6})
    r = http.patch(f"/v1/groups/{voice['id']}", json={"manager_config": {
        "manager_type": "voice_sleeptime", "min_message_buffer_length": 20}})
    assert_http_error(r, 400)
    assert "must be greater than" in r.json()["detail"]


def test_an_agents_groups_are_those_it_belongs_to(http, client, uid):
    a, b, boss = (member(client, uid, w) for w in ("a", "b", "boss"))
    rr = create_group(http, [a.id, b.id])
    dyn = create_group(http, [a.id], manager_config={
        "manager_type": "dynamic", "manager_agent_id": boss.id})
    create_group(http, [b.id])

    mine = ok(http.get(f"/v1/agents/{a.id}/groups"))
    assert [g["id"] for g in mine] == [dyn["id"], rr["id"]], "newest first"
    asc = ok(http.get(f"/v1/agents/{a.id}/groups", params={"order": "asc"}))
    assert [g["id"] for g in asc] == [rr["id"], dyn["id"]]
    only = ok(http.get(f"/v1/agents/{a.id}/groups", params={"manager_type": "dynamic"}))
    assert [g["id"] for g in only] == [dyn["id"]]
    assert ok(http.get(f"/v1/agents/{a.id}/groups", params={"manager_type": "nothing"})) == []
    # Managing a group is not belonging to it.
    assert ok(http.get(f"/v1/agents/{boss.id}/groups")) == []
    assert_http_error(http.get(f"/v1/agents/{random_id('agent')}/groups"), 404)


def system_prompt(client, agent_id: str) -> str:
    first = history(client, agent_id)[0]
    assert first.message_type == "system_message"
    return first.content


def test_shared_blocks_reach_every_member_and_the_manager(http, client, uid):
    a, b, boss = (member(client, uid, w) for w in ("a", "b", "boss"))
    notes = client.blocks.create(label=f"notes_{uid}", value=f"shared-notes-{uid}")
    group = create_group(http, [a.id, b.id], shared_block_ids=[notes.id], manager_config={
        "manager_type": "supervisor", "manager_agent_id": boss.id})
    assert group["shared_block_ids"] == [notes.id]
    for agent in (a, b, boss):
        labels = [blk.label for blk in client.agents.blocks.list(agent.id)]
        assert notes.label in labels, agent.name
        assert f"shared-notes-{uid}" in system_prompt(client, agent.id)

    plan = client.blocks.create(label=f"plan_{uid}", value=f"shared-plan-{uid}")
    gid = group["id"]
    assert ok(http.patch(f"/v1/groups/{gid}/blocks/attach/{plan.id}")) is None
    assert ok(http.get(f"/v1/groups/{gid}"))["shared_block_ids"] == [notes.id, plan.id]
    for agent in (a, b, boss):
        assert f"shared-plan-{uid}" in system_prompt(client, agent.id), agent.name

    assert ok(http.patch(f"/v1/groups/{gid}/blocks/detach/{plan.id}")) is None
    assert ok(http.get(f"/v1/groups/{gid}"))["shared_block_ids"] == [notes.id]
    assert plan.label in [blk.label for blk in client.agents.blocks.list(a.id)], "agents keep it"
    # Detaching a block the group does not share is no error; an unknown one is a 404.
    assert ok(http.patch(f"/v1/groups/{gid}/blocks/detach/{plan.id}")) is None
    assert_http_error(http.patch(f"/v1/groups/{gid}/blocks/detach/{random_id('block')}"), 404)
    assert_http_error(http.patch(f"/v1/groups/{gid}/blocks/attach/{random_id('block')}"), 404)
    assert_http_error(http.patch(f"/v1/groups/{random_id('group')}/blocks/attach/{plan.id}"), 404)


def tool_names(client, agent_id: str) -> list[str]:
    return [t.name for t in client.agents.tools.list(agent_id, limit=100)]


def test_a_supervisor_gets_the_tool_to_reach_its_members(http, client, uid):
    a, boss, boss2 = (member(client, uid, w) for w in ("a", "boss", "boss2"))
    group = create_group(http, [a.id], manager_config={
        "manager_type": "supervisor", "manager_agent_id": boss.id})
    assert "send_message_to_all_agents_in_group" in tool_names(client, boss.id)
    assert "send_message_to_all_agents_in_group" not in tool_names(client, a.id)
    ok(http.patch(f"/v1/groups/{group['id']}", json={
        "manager_config": {"manager_type": "supervisor", "manager_agent_id": boss2.id}}))
    assert "send_message_to_all_agents_in_group" in tool_names(client, boss2.id)


# -- messaging: round robin ------------------------------------------------------------------------


def test_round_robin_speakers_answer_in_order_and_hear_each_other(http, fake, client, uid):
    names = ("alice", "bob", "carol")
    agents = [member(client, uid, w) for w in names]
    for who in names:
        fake.system_rule(marker(uid, who), {"text": f"{who} speaks"})
    group = create_group(http, [a.id for a in agents])

    out = send(http, group["id"], "what is the plan?")
    assert replies(out) == ["alice speaks", "bob speaks", "carol speaks"]
    assert out["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    usage = out["usage"]
    assert usage["step_count"] == 3 and len(usage["run_ids"]) == 3
    assert usage["prompt_tokens"] > 0 and usage["total_tokens"] > 0

    # Each speaker got the input and the replies before it, as system messages.
    (bob_req,) = requests_of(fake, marker(uid, "bob"))
    assert dialogue(bob_req)[-2:] == [("user", "what is the plan?"), ("system", "alice speaks")]
    (carol_req,) = requests_of(fake, marker(uid, "carol"))
    assert dialogue(carol_req)[-3:] == [
        ("user", "what is the plan?"), ("system", "alice speaks"), ("system", "bob speaks")]

    # What alice did not hear is in her history and context, naming its speakers.
    alice_hist = history(client, agents[0].id)
    tail = alice_hist[-2:]
    assert [(m.message_type, m.content) for m in tail] == [
        ("system_message", "bob speaks"), ("system_message", "carol speaks")]
    assert tail[0].name == agents[1].name and tail[0].sender_id == agents[1].id

    # The next exchange: alice's model sees what the group said last time.
    fake.reset()
    for who in names:
        fake.system_rule(marker(uid, who), {"text": f"{who} again"})
    send(http, group["id"], "and now?")
    (alice_req,) = requests_of(fake, marker(uid, "alice"))
    assert dialogue(alice_req)[-3:] == [
        ("system", "bob speaks"), ("system", "carol speaks"), ("user", "and now?")]


def test_round_robin_max_turns_goes_around_again(http, fake, client, uid):
    a, b = member(client, uid, "a"), member(client, uid, "b")
    fake.system_rule(marker(uid, "a"), {"text": "a first"}, times=1)
    fake.system_rule(marker(uid, "a"), {"text": "a second"}, times=1)
    fake.system_rule(marker(uid, "b"), {"text": "b once"})
    group = create_group(http, [a.id, b.id],
                         manager_config={"manager_type": "round_robin", "max_turns": 3})
    assert group["max_turns"] == 3
    out = send(http, group["id"], "go")
    assert replies(out) == ["a first", "b once", "a second"]
    second = requests_of(fake, marker(uid, "a"))[1]
    # Only what came after a's first turn, after a's own reply in its context.
    assert dialogue(second)[-3:] == [("user", "go"), ("assistant", "a first"), ("system", "b once")]


def test_an_exchange_stops_when_a_speaker_waits_for_approval(http, fake, client, uid):
    a, b = member(client, uid, "a"), member(client, uid, "b")
    fake.system_rule(marker(uid, "a"), {"tool_calls": [{"name": "ask_human", "arguments": {}}]})
    fake.system_rule(marker(uid, "b"), {"text": "b speaks"})
    group = create_group(http, [a.id, b.id])
    tools = [{"name": "ask_human", "description": "Asks the human.",
              "parameters": {"type": "object", "properties": {}}}]
    out = send(http, group["id"], "hello", client_tools=tools)
    assert out["stop_reason"]["stop_reason"] == "requires_approval"
    assert [m["message_type"] for m in out["messages"]] == ["approval_request_message"]
    assert requests_of(fake, marker(uid, "b")) == [], "the next speaker never ran"
    # b is told what was said; a, waiting for its answer, is given nothing twice.
    b_users = [m.content for m in history(client, b.id) if m.message_type == "user_message"]
    assert b_users == ["hello"]
    a_users = [m.content for m in history(client, a.id) if m.message_type == "user_message"]
    assert a_users == ["hello"]


def test_a_group_stream_carries_every_turn_and_one_ending(http, fake, client, uid):
    a, b = member(client, uid, "a"), member(client, uid, "b")
    fake.system_rule(marker(uid, "a"), {"text": "streamed a"})
    fake.system_rule(marker(uid, "b"), {"text": "streamed b"})
    group = create_group(http, [a.id, b.id])
    body = {"messages": say("stream it")}
    for path, extra in [(f"/v1/groups/{group['id']}/messages/stream", {}),
                        (f"/v1/groups/{group['id']}/messages", {"streaming": True})]:
        events = sse_payloads(http, path, {**body, **extra})
        assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
        kinds = [e["message_type"] for e in events[:-1]]
        assert kinds.count("stop_reason") == 1 and kinds.count("usage_statistics") == 1
        assert kinds[-2:] == ["stop_reason", "usage_statistics"], kinds
        said = [e["content"] for e in events if isinstance(e, dict)
                and e.get("message_type") == "assistant_message"]
        assert said == ["streamed a", "streamed b"]
        usage = events[-2]
        assert usage["step_count"] == 2 and len(usage["run_ids"]) == 2
        assert events[-3]["stop_reason"] == "end_turn"

    assert_http_error(http.post(f"/v1/groups/{group['id']}/messages/stream",
                                json={**body, "background": True}), 400)
    assert_http_error(http.post(f"/v1/groups/{random_id('group')}/messages/stream", json=body), 404)


def test_group_requests_are_checked_before_any_turn(http, client, uid):
    a = member(client, uid, "a")
    group = create_group(http, [a.id])
    gid = group["id"]
    assert_http_error(http.post(f"/v1/groups/{gid}/messages", json={}), 422)
    assert_http_error(http.post(f"/v1/groups/{gid}/messages", json={"messages": []}), 422)
    empty = create_group(http, [])
    r = http.post(f"/v1/groups/{empty['id']}/messages", json={"messages": say("hi")})
    assert_http_error(r, 400)
    assert "Empty group" in r.json()["detail"]
    assert_http_error(http.post(f"/v1/groups/{random_id('group')}/messages",
                                json={"messages": say("hi")}), 404)


# -- messaging: dynamic ----------------------------------------------------------------------------


def dynamic_group(http, client, uid, **config):
    boss = member(client, uid, "boss")
    alice = member(client, uid, "alice", description="knows the numbers")
    bob = member(client, uid, "bob")
    group = create_group(http, [alice.id, bob.id], manager_config={
        "manager_type": "dynamic", "manager_agent_id": boss.id, **config})
    return group, boss, alice, bob


def test_a_dynamic_manager_picks_speakers_until_the_termination_token(http, fake, client, uid):
    group, boss, alice, bob = dynamic_group(http, client, uid, max_turns=5)
    fake.system_rule(marker(uid, "boss"), {"text": f"{bob.name} should start"}, times=1)
    fake.system_rule(marker(uid, "boss"), {"text": f"Now {alice.name.upper()}."}, times=1)
    fake.system_rule(marker(uid, "bob"), {"text": "bob's view"})
    fake.system_rule(marker(uid, "alice"), {"text": "the numbers add up DONE!"})

    out = send(http, group["id"], "shall we ship?")
    assert replies(out) == [f"{bob.name} should start", "bob's view",
                            f"Now {alice.name.upper()}.", "the numbers add up DONE!"]
    assert out["usage"]["step_count"] == 4
    assert out["stop_reason"]["stop_reason"] == "end_turn"

    first, second = requests_of(fake, marker(uid, "boss"))
    asked = dialogue(first)[-1]
    assert asked[0] == "user"
    assert f"- {alice.name}: knows the numbers" in asked[1] and f"- {bob.name}" in asked[1]
    assert "user: shall we ship?" in asked[1]
    # The manager is not offered the last speaker and sees the exchange so far.
    asked = dialogue(second)[-1][1]
    assert f"- {bob.name}" not in asked and f"{bob.name}: bob's view" in asked
    (alice_req,) = requests_of(fake, marker(uid, "alice"))
    assert dialogue(alice_req)[-2:] == [("user", "shall we ship?"), ("system", "bob's view")]


def test_a_dynamic_group_stops_at_max_turns_and_refuses_a_manager_naming_nobody(
        http, fake, client, uid):
    group, boss, alice, bob = dynamic_group(http, client, uid, max_turns=2)
    fake.system_rule(marker(uid, "boss"), {"text": f"{alice.name}"}, times=1)
    fake.system_rule(marker(uid, "boss"), {"text": f"{bob.name}"}, times=1)
    fake.system_rule(marker(uid, "alice"), {"text": "alice once"})
    fake.system_rule(marker(uid, "bob"), {"text": "bob once"})
    out = send(http, group["id"], "talk")
    assert replies(out) == [alice.name, "alice once", bob.name, "bob once"]
    assert len(requests_of(fake, marker(uid, "boss"))) == 2, "no question after the last turn"

    fake.reset()
    fake.system_rule(marker(uid, "boss"), {"text": "nobody in particular"})
    r = http.post(f"/v1/groups/{group['id']}/messages", json={"messages": say("again")})
    assert r.status_code == 502, r.text
    assert r.headers["x-should-retry"] == "false"
    error = r.json()["error"]
    assert error["type"] == "llm_invalid_response"
    assert "named none of the participants" in error["message"]
    assert alice.name in error["message"] and bob.name in error["message"]


# -- the group's messages --------------------------------------------------------------------------


def test_group_messages_are_listed_edited_and_reset(http, fake, client, uid):
    a, b = member(client, uid, "a"), member(client, uid, "b")
    fake.system_rule(marker(uid, "a"), {"text": "reply a"})
    fake.system_rule(marker(uid, "b"), {"text": "reply b"})
    group = create_group(http, [a.id, b.id])
    gid = group["id"]
    client.agents.messages.create(a.id, messages=say("private to a"))
    send(http, gid, "to the group")

    everything = group_messages(http, gid, order="asc", limit=100)
    seen = [(m["message_type"], m.get("content")) for m in everything]
    assert seen == [
        ("user_message", "to the group"), ("assistant_message", "reply a"),   # a's turn
        ("user_message", "to the group"), ("system_message", "reply a"),      # b's turn
        ("assistant_message", "reply b"),
        ("system_message", "reply b"),                                        # delivered to a
    ], seen
    assert "private to a" not in json.dumps(everything)
    # Ten newest by default, oldest first; cursors compare storage order.
    assert [m["id"] for m in group_messages(http, gid)] == [m["id"] for m in everything]
    newest = group_messages(http, gid, limit=2)
    assert [m["content"] for m in newest] == ["reply b", "reply b"]
    after = group_messages(http, gid, order="asc", after=everything[3]["id"])
    assert [m["id"] for m in after] == [m["id"] for m in everything[4:]]
    only = group_messages(http, gid, order="asc", include_return_message_types="user_message")
    assert {m["message_type"] for m in only} == {"user_message"}

    first = everything[0]
    edited = ok(http.patch(f"/v1/groups/{gid}/messages/{first['id']}",
                           json={"message_type": "user_message", "content": "edited input"}))
    assert edited["id"] == first["id"] and edited["content"] == "edited input"
    private = [m for m in history(client, a.id) if m.message_type == "user_message"][0]
    r = http.patch(f"/v1/groups/{gid}/messages/{private.id}", json={"content": "x"})
    assert_http_error(r, 404)

    assert ok(http.patch(f"/v1/groups/{gid}/reset-messages")) is None
    assert group_messages(http, gid, limit=100) == []
    for agent in (a, b):
        kept = history(client, agent.id)
        assert all(m.id not in {e["id"] for e in everything} for m in kept)
        state = ok(http.get(f"/v1/agents/{agent.id}"))
        assert set(state["message_ids"]).isdisjoint({e["id"] for e in everything})
    assert "private to a" in [m.content for m in history(client, a.id) if m.message_type == "user_message"]
    # The agents answer as before.
    fake.reset()
    reply = client.agents.messages.create(a.id, messages=say("still there?"))
    assert [m.content for m in reply.messages if m.message_type == "assistant_message"]
    assert_http_error(http.patch(f"/v1/groups/{random_id('group')}/reset-messages"), 404)
    assert_http_error(http.get(f"/v1/groups/{random_id('group')}/messages"), 404)


# -- messaging: supervisor and sleep-time ----------------------------------------------------------


def supervised(http, fake, client, uid):
    boss, a, b = (member(client, uid, w) for w in ("boss", "a", "b"))
    group = create_group(http, [a.id, b.id], manager_config={
        "manager_type": "supervisor", "manager_agent_id": boss.id})
    fake.system_rule(marker(uid, "boss"), {"tool_calls": [{
        "name": "send_message_to_all_agents_in_group", "arguments": {"message": "report in"}}]},
        times=1)
    fake.system_rule(marker(uid, "boss"), {"text": "all reported"}, times=1)
    fake.system_rule(marker(uid, "a"), {"text": "a reporting"})
    fake.system_rule(marker(uid, "b"), {"text": "b reporting"})
    return group, boss, a, b


def test_a_supervisor_gets_the_group_message_and_calls_its_tool(http, fake, client, uid):
    group, boss, a, b = supervised(http, fake, client, uid)
    out = send(http, group["id"], "status?")
    kinds = [m["message_type"] for m in out["messages"]]
    assert kinds == ["tool_call_message", "tool_return_message", "assistant_message"], kinds
    assert out["messages"][0]["tool_call"]["name"] == "send_message_to_all_agents_in_group"
    assert replies(out) == ["all reported"]
    listed = group_messages(http, group["id"], order="asc", limit=100)
    assert listed[0]["message_type"] == "user_message" and listed[0]["content"] == "status?"
    assert [m["content"] for m in listed if m["message_type"] == "assistant_message"] == [
        "all reported"], "the members' turns are theirs, not the group's"


def test_a_supervisors_tool_collects_its_members_replies(http, fake, client, uid):
    group, boss, a, b = supervised(http, fake, client, uid)
    out = send(http, group["id"], "status?")
    ret = [m for m in out["messages"] if m["message_type"] == "tool_return_message"][0]
    assert ret["status"] == "success", ret
    assert "a reporting" in ret["tool_return"] and "b reporting" in ret["tool_return"]
    assert a.id in ret["tool_return"] and b.id in ret["tool_return"]


def test_a_sleeptime_group_message_goes_to_its_primary_agent(http, fake, client, uid):
    primary, companion = member(client, uid, "primary"), member(client, uid, "companion")
    fake.system_rule(marker(uid, "primary"), {"text": "primary answers"})
    group = create_group(http, [companion.id], manager_config={
        "manager_type": "sleeptime", "manager_agent_id": primary.id})
    out = send(http, group["id"], "remember this")
    assert "primary answers" in replies(out)
    users = [m.content for m in history(client, primary.id) if m.message_type == "user_message"]
    assert users[-1] == "remember this"
