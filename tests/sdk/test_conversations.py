"""Conversations through letta-client 1.12.1: `/v1/conversations/...` (issue 25).

One agent holds many conversations: each has its own messages, system message, runs and lock,
while the agent's blocks, tools and archival memory are shared. The agent's own routes keep
acting on its `default` conversation.

Every test here scripts the session's fake LLM (the `fake` fixture resets it), so the tests must
run serially against the shared server. With nothing queued the fake echoes the last user message
("echo: <text>"), which is how a reply is recognised below.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid

import letta_client
import pytest

from _helpers import (
    assert_error_body,
    assert_http_error,
    assert_id,
    history,
    llm_messages,
    llm_text,
    make_agent,
    of_type,
    random_id,
    text_of,
    types,
    wait_model_called,
)

TERMINAL = {"completed", "failed", "cancelled"}
# The start of mneme's summarizer prompts (as in test_compaction.py).
SUMMARIZER = "You write the memory"
# Upper bound on pages when following cursors: a server that ignores them would loop forever.
MAX_PAGES = 50


@pytest.fixture
def agent(client, uid):
    return make_agent(
        client,
        f"conv-{uid}",
        memory_blocks=[
            {"label": "human", "value": f"Name: Ada {uid}"},
            {"label": "persona", "value": f"I am terse {uid}."},
        ],
    )


# -- helpers -------------------------------------------------------------------------------------


def say(text: str, **extra) -> list[dict]:
    return [{"role": "user", "content": text, **extra}]


def send(client, conversation_id: str, text: str, **kwargs) -> list:
    """One streamed turn (the route's default) in a conversation; every chunk."""
    with client.conversations.messages.create(conversation_id, messages=say(text), **kwargs) as stream:
        return list(stream)


def send_blocking(http, conversation_id: str, text: str, **body) -> dict:
    """One turn with `streaming: false`: the LettaResponse JSON."""
    payload = {"messages": say(text), "streaming": False, **body}
    r = http.post(f"/v1/conversations/{conversation_id}/messages", json=payload)
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/json"), r.headers
    return r.json()


def replies(chunks) -> list[str]:
    return [c.content for c in of_type(chunks, "assistant_message")]


def messages_of(client, conversation_id: str, order: str = "asc", **kwargs) -> list:
    """Every listed message of a conversation, following `after` page by page (bounded)."""
    out: list = []
    after = None
    for _ in range(MAX_PAGES):
        params = dict(kwargs, order=order)
        if after is not None:
            params["after"] = after
        page = client.conversations.messages.list(conversation_id, **params).items
        if not page:
            return out
        out.extend(page)
        after = page[-1].id
    raise AssertionError(f"more than {MAX_PAGES} pages: the `after` cursor is not followed")


def keys(messages) -> list[tuple[str, str]]:
    """(id, message_type) per listed message: one stored row may list as several messages."""
    return [(m.id, m.message_type) for m in messages]


def texts(messages) -> list[str]:
    return [text_of(m) for m in messages if m.message_type in ("user_message", "assistant_message")]


def metadata_of(system_text: str) -> str:
    m = re.search(r"<memory_metadata>(.*?)</memory_metadata>", system_text, re.S)
    assert m, f"no <memory_metadata> section in the system message: {system_text[-400:]!r}"
    return m.group(1)


def retrieve_message(http, message_id: str) -> dict:
    """`GET /v1/messages/{id}`: a one-element list (Letta's shape); the element."""
    r = http.get(f"/v1/messages/{message_id}")
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    body = r.json()
    assert isinstance(body, list) and len(body) == 1, f"expected a one-element list: {body!r}"
    assert body[0]["id"] == message_id
    return body[0]


def assert_not_found(error, missing: str, names_it: bool = True) -> None:
    """A 404 from the route itself, not the router's bare `Not Found` for a missing route; it
    names the missing id (Letta's messages do, except "Agent not found" on create)."""
    if isinstance(error, letta_client.APIStatusError):
        assert_error_body(error, 404)
        detail = error.body["detail"]
    else:
        assert_http_error(error, 404)
        detail = error.json()["detail"]
    assert isinstance(detail, str) and detail != "Not Found", f"no such route? {detail!r}"
    if names_it:
        assert missing in detail, f"the 404 does not name {missing}: {detail!r}"


def request_system(request: dict) -> str:
    systems = llm_messages(request, "system")
    assert systems, f"no system message in the model request: {request['messages'][:1]}"
    return llm_text(systems[0])


def request_dialogue(request: dict) -> list[tuple[str, str]]:
    """(role, text) of the non-system messages of a recorded chat request."""
    return [(m["role"], llm_text(m)) for m in request["messages"] if m["role"] != "system"]


def wait_terminal(client, run_id: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        run = client.runs.retrieve(run_id)
        if run.status in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.status!r} after {timeout}s"
        time.sleep(0.1)


def runs_of(client, **filters) -> list:
    return list(itertools.islice(client.runs.list(**filters), 200))


def assert_tail(chunks, stop_reason: str = "end_turn") -> None:
    assert types(chunks[-2:]) == ["stop_reason", "usage_statistics"], types(chunks)
    assert chunks[-2].stop_reason == stop_reason
    usage = chunks[-1]
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


# -- create and retrieve ---------------------------------------------------------------------------


def test_create_compiles_a_system_message_of_its_own(client, http, fake, agent, uid):
    conv = client.conversations.create(agent_id=agent.id)
    assert_id(conv.id, "conv")
    assert conv.agent_id == agent.id

    got = client.conversations.retrieve(conv.id)
    assert (got.id, got.agent_id) == (conv.id, agent.id)
    assert len(got.in_context_message_ids) == 1, got.in_context_message_ids
    system_id = got.in_context_message_ids[0]
    assert_id(system_id, "message")
    assert system_id not in agent.message_ids, "the conversation shares the default system message"

    system = retrieve_message(http, system_id)
    assert system["message_type"] == "system_message"
    assert isinstance(system["content"], str)
    for needle in (f"Name: Ada {uid}", f"I am terse {uid}."):
        assert needle in system["content"]
    meta = metadata_of(system["content"])
    assert f"- AGENT_ID: {agent.id}" in meta
    assert f"- CONVERSATION_ID: {conv.id}" in meta

    listed = messages_of(client, conv.id)
    assert keys(listed) == [(system_id, "system_message")]
    assert fake.requests() == [], "creating a conversation calls no model"


def test_default_system_message_names_the_default_conversation(client, http, agent):
    system = retrieve_message(http, agent.message_ids[0])
    assert system["message_type"] == "system_message"
    meta = metadata_of(system["content"])
    assert f"- AGENT_ID: {agent.id}" in meta
    assert "- CONVERSATION_ID: default" in meta

    # the SDK's view of the same route
    (msg,) = client.messages.retrieve(agent.message_ids[0])
    assert (msg.id, msg.message_type) == (agent.message_ids[0], "system_message")


def test_retrieve_message_of_a_conversation_and_unknown_ids(client, http, fake, agent):
    conv = client.conversations.create(agent_id=agent.id)
    send(client, conv.id, "find me")
    user = of_type(messages_of(client, conv.id), "user_message")[0]
    got = retrieve_message(http, user.id)
    assert (got["message_type"], got["content"]) == ("user_message", "find me")

    missing = random_id("message")
    assert_not_found(http.get(f"/v1/messages/{missing}"), missing)


def test_create_for_an_unknown_agent_is_404(client):
    missing = random_id("agent")
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.conversations.create(agent_id=missing)
    assert_not_found(ei.value, missing, names_it=False)


def test_retrieve_an_unknown_conversation_is_404(client):
    missing = random_id("conv")
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.conversations.retrieve(missing)
    assert_not_found(ei.value, missing)


def test_model_override_sends_the_conversation_to_that_model(client, fake, agent):
    conv = client.conversations.create(agent_id=agent.id, model="anthropic/claude-haiku-4-5")
    assert conv.model == "anthropic/claude-haiku-4-5"
    assert client.conversations.retrieve(conv.id).model == "anthropic/claude-haiku-4-5"

    assert replies(send(client, conv.id, "which model?")) == ["echo: which model?"]
    client.agents.messages.create(agent_id=agent.id, input="and the default?")

    chats = [r for r in fake.recorded() if r["path"] in ("/v1/messages", "/v1/chat/completions")]
    assert [(r["path"], r["body"]["model"]) for r in chats] == [
        ("/v1/messages", "claude-haiku-4-5"),
        ("/v1/chat/completions", "gpt-4o-mini"),
    ], "the conversation's model is its own; the agent's default conversation keeps the agent's"


def test_model_without_a_provider_is_4xx(client, agent):
    with pytest.raises(letta_client.APIStatusError) as ei:
        client.conversations.create(agent_id=agent.id, model="gpt-4o-mini")
    assert ei.value.status_code in (400, 422), ei.value
    assert_error_body(ei.value, ei.value.status_code)
    assert client.conversations.list(agent_id=agent.id) == []


def test_isolated_block_is_a_copy_edited_apart_from_the_agent(client, fake, agent, uid):
    shared = client.agents.blocks.retrieve("human", agent_id=agent.id)
    conv = client.conversations.create(agent_id=agent.id, extra_body={"isolated_block_labels": ["human"]})
    assert len(conv.isolated_block_ids) == 1, conv.isolated_block_ids
    copy_id = conv.isolated_block_ids[0]
    assert_id(copy_id, "block")
    assert copy_id != shared.id
    copy = client.blocks.retrieve(copy_id)
    assert (copy.label, copy.value) == ("human", shared.value)

    args = {"label": "human", "old_string": f"Ada {uid}", "new_string": f"Grace {uid}"}
    fake.push({"tool_calls": [{"name": "memory_replace", "arguments": args}]}, {"text": "Noted."})
    assert replies(send(client, conv.id, "I am Grace now")) == ["Noted."]

    assert client.blocks.retrieve(copy_id).value == f"Name: Grace {uid}"
    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == shared.value

    # the conversation's next turn sees its copy; the default conversation the agent's block
    send(client, conv.id, "who am I?")
    assert f"Name: Grace {uid}" in request_system(fake.requests()[-1])
    client.agents.messages.create(agent_id=agent.id, input="who am I, by default?")
    default_system = request_system(fake.requests()[-1])
    assert f"Name: Ada {uid}" in default_system and f"Grace {uid}" not in default_system


def test_isolating_an_unknown_label_is_4xx(client, agent):
    with pytest.raises(letta_client.APIStatusError) as ei:
        client.conversations.create(agent_id=agent.id, extra_body={"isolated_block_labels": ["nope"]})
    assert 400 <= ei.value.status_code < 500, ei.value
    assert_error_body(ei.value, ei.value.status_code)
    assert client.conversations.list(agent_id=agent.id) == []


# -- list, update, delete --------------------------------------------------------------------------


def test_list_by_agent_orders_limits_and_pages(client, agent, uid):
    made = []
    for _ in range(5):
        made.append(client.conversations.create(agent_id=agent.id).id)
        time.sleep(0.01)  # distinct creation times
    other = make_agent(client, f"conv-other-{uid}")
    foreign = client.conversations.create(agent_id=other.id).id

    newest_first = [c.id for c in client.conversations.list(agent_id=agent.id)]
    assert newest_first == made[::-1], "default order: newest first"
    assert foreign not in newest_first
    assert [c.id for c in client.conversations.list(agent_id=agent.id, order="asc")] == made
    assert [c.id for c in client.conversations.list(agent_id=agent.id, limit=2)] == made[::-1][:2]

    for order, expected in (("desc", made[::-1]), ("asc", made)):
        walked: list[str] = []
        after = None
        for _ in range(MAX_PAGES):
            page = client.conversations.list(agent_id=agent.id, order=order, limit=2, after=after or letta_client.omit)
            if not page:
                break
            walked += [c.id for c in page]
            after = page[-1].id
        assert walked == expected, f"order={order}: pages walked {walked}"


def test_list_summary_search_matches_a_substring(client, agent, uid):
    hit = client.conversations.create(agent_id=agent.id, summary=f"billing {uid} refund")
    client.conversations.create(agent_id=agent.id, summary=f"shipping {uid}")
    client.conversations.create(agent_id=agent.id)

    found = client.conversations.list(agent_id=agent.id, summary_search=f"{uid} ref")
    assert [c.id for c in found] == [hit.id]
    assert found[0].summary == f"billing {uid} refund"
    assert len(client.conversations.list(agent_id=agent.id, summary_search=uid)) == 2


def test_list_by_last_message_at_puts_the_latest_messaged_first(client, fake, agent):
    first = client.conversations.create(agent_id=agent.id)
    second = client.conversations.create(agent_id=agent.id)
    silent = client.conversations.create(agent_id=agent.id)
    send(client, second.id, "second, messaged first")
    time.sleep(0.01)
    send(client, first.id, "first, messaged last")

    ordered = client.conversations.list(agent_id=agent.id, order_by="last_message_at", order="desc")
    assert [c.id for c in ordered] == [first.id, second.id, silent.id], "never-messaged ones come last"
    assert ordered[0].last_message_at is not None and ordered[0].last_message_at >= ordered[1].last_message_at
    assert client.conversations.retrieve(silent.id).last_message_at is None


def test_update_summary(client, agent, uid):
    conv = client.conversations.create(agent_id=agent.id)
    updated = client.conversations.update(conv.id, summary=f"about {uid}")
    assert (updated.id, updated.summary) == (conv.id, f"about {uid}")
    assert client.conversations.retrieve(conv.id).summary == f"about {uid}"
    assert [c.id for c in client.conversations.list(agent_id=agent.id, summary_search=uid)] == [conv.id]

    missing = random_id("conv")
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.conversations.update(missing, summary="x")
    assert_not_found(ei.value, missing)


def test_delete_removes_the_conversation_and_nothing_else(client, http, fake, agent, uid):
    doomed = client.conversations.create(agent_id=agent.id)
    kept = client.conversations.create(agent_id=agent.id)
    doomed_run = send(client, doomed.id, f"doomed {uid}")[0].run_id
    kept_run = send(client, kept.id, f"kept {uid}")[0].run_id
    client.agents.messages.create(agent_id=agent.id, input=f"default {uid}")
    doomed_msgs = messages_of(client, doomed.id)
    kept_before = keys(messages_of(client, kept.id))
    default_before = keys(history(client, agent.id))
    agent_before = client.agents.retrieve(agent.id)
    blocks_before = {b.label: b.value for b in client.agents.blocks.list(agent.id)}

    r = http.delete(f"/v1/conversations/{doomed.id}")
    assert r.status_code == 200, r.text

    assert_not_found(http.get(f"/v1/conversations/{doomed.id}"), doomed.id)
    assert_not_found(http.patch(f"/v1/conversations/{doomed.id}", json={"summary": "x"}), doomed.id)
    assert_not_found(http.delete(f"/v1/conversations/{doomed.id}"), doomed.id)
    listed = http.get(f"/v1/conversations/{doomed.id}/messages")
    assert listed.status_code == 404 or listed.json() == [], f"{listed.status_code} {listed.text}"
    for m in doomed_msgs:
        assert_not_found(http.get(f"/v1/messages/{m.id}"), m.id)
    assert [r.id for r in runs_of(client, conversation_id=doomed.id)] == []
    assert [c.id for c in client.conversations.list(agent_id=agent.id)] == [kept.id]

    # the agent, its blocks, its default conversation and the other conversation are untouched
    assert keys(messages_of(client, kept.id)) == kept_before
    assert [r.id for r in runs_of(client, conversation_id=kept.id)] == [kept_run]
    assert keys(history(client, agent.id)) == default_before
    after = client.agents.retrieve(agent.id)
    assert after.message_ids == agent_before.message_ids
    assert {b.label: b.value for b in client.agents.blocks.list(agent.id)} == blocks_before

    missing = random_id("conv")
    assert_not_found(http.delete(f"/v1/conversations/{missing}"), missing)


# -- fork ------------------------------------------------------------------------------------------


def test_fork_copies_the_history_and_is_independent_afterwards(client, http, fake, agent, uid):
    source = client.conversations.create(agent_id=agent.id)
    send(client, source.id, f"my colour is red {uid}")
    send(client, source.id, "and my pet is a cat")
    source_ids = client.conversations.retrieve(source.id).in_context_message_ids

    fork = client.conversations.fork(source.id)
    assert_id(fork.id, "conv")
    assert fork.id != source.id and fork.agent_id == agent.id
    fork_ids = client.conversations.retrieve(fork.id).in_context_message_ids
    assert fork_ids[0] != source_ids[0], "the fork has a system message of its own"
    assert fork_ids[1:] == source_ids[1:], "the fork shares the source's non-system messages, in order"
    fork_system = retrieve_message(http, fork_ids[0])
    assert f"- CONVERSATION_ID: {fork.id}" in metadata_of(fork_system["content"])
    listed = messages_of(client, fork.id)
    assert listed[0].message_type == "system_message" and listed[0].id == fork_ids[0]
    assert [m.id for m in listed[1:]] == [m.id for m in messages_of(client, source.id)[1:]]

    # the fork's model sees the copied history
    send(client, fork.id, f"only in the fork {uid}")
    assert request_dialogue(fake.requests()[-1]) == [
        ("user", f"my colour is red {uid}"),
        ("assistant", f"echo: my colour is red {uid}"),
        ("user", "and my pet is a cat"),
        ("assistant", "echo: and my pet is a cat"),
        ("user", f"only in the fork {uid}"),
    ]
    # afterwards the two are independent
    assert f"only in the fork {uid}" not in texts(messages_of(client, source.id))
    assert client.conversations.retrieve(source.id).in_context_message_ids == source_ids
    send(client, source.id, f"only in the source {uid}")
    assert f"only in the source {uid}" not in texts(messages_of(client, fork.id))
    assert f"only in the fork {uid}" not in json.dumps(fake.requests()[-1]["messages"])

    missing = random_id("conv")
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.conversations.fork(missing)
    assert_not_found(ei.value, missing)


def test_deleting_the_source_keeps_what_a_fork_shares(client, http, fake, agent, uid):
    source = client.conversations.create(agent_id=agent.id)
    send(client, source.id, f"shared {uid}")
    fork = client.conversations.fork(source.id)
    send(client, source.id, f"source only {uid}")
    shared = messages_of(client, fork.id)

    r = http.delete(f"/v1/conversations/{source.id}")
    assert r.status_code == 200, r.text

    assert keys(messages_of(client, fork.id)) == keys(shared)
    assert texts(shared) == [f"shared {uid}", f"echo: shared {uid}"]
    for m in shared:
        assert retrieve_message(http, m.id)["message_type"] == m.message_type
    send(client, fork.id, "still whole?")
    assert request_dialogue(fake.requests()[-1]) == [
        ("user", f"shared {uid}"),
        ("assistant", f"echo: shared {uid}"),
        ("user", "still whole?"),
    ]


def test_fork_of_the_default_conversation(client, fake, agent, uid):
    client.agents.messages.create(agent_id=agent.id, input=f"penguins {uid}")
    default_ids = client.agents.retrieve(agent.id).message_ids

    fork = client.conversations.fork("default", agent_id=agent.id)
    assert_id(fork.id, "conv")
    assert fork.agent_id == agent.id
    fork_ids = client.conversations.retrieve(fork.id).in_context_message_ids
    assert fork_ids[0] != default_ids[0]
    assert fork_ids[1:] == default_ids[1:]

    send(client, fork.id, f"fork only {uid}")
    assert f"fork only {uid}" not in texts(history(client, agent.id))
    assert client.agents.retrieve(agent.id).message_ids == default_ids


# -- sending ---------------------------------------------------------------------------------------


def test_send_streams_by_default(client, http, fake, agent):
    conv = client.conversations.create(agent_id=agent.id)
    chunks = send(client, conv.id, "hi")
    assert types(chunks) == ["ping", "assistant_message", "stop_reason", "usage_statistics"], chunks
    run_id = chunks[0].run_id
    assert_id(run_id, "run")
    assert chunks[1].content == "echo: hi" and chunks[1].run_id == run_id
    assert_tail(chunks)

    run = wait_terminal(client, run_id)
    assert (run.status, run.conversation_id, run.agent_id) == ("completed", conv.id, agent.id)
    listed = messages_of(client, conv.id)
    assert types(listed) == ["system_message", "user_message", "assistant_message"]
    assert texts(listed) == ["hi", "echo: hi"]
    assert listed[2].id == chunks[1].id

    # the raw response: SSE without asking for it, ending with [DONE]
    with http.stream("POST", f"/v1/conversations/{conv.id}/messages", json={"messages": say("raw")}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream"), r.headers
        raw = r.read()
    assert raw.endswith(b"data: [DONE]\n\n"), raw[-120:]


def test_send_with_streaming_false_returns_a_letta_response(client, http, fake, agent):
    conv = client.conversations.create(agent_id=agent.id)
    body = send_blocking(http, conv.id, "blocking hi")
    assert [m["message_type"] for m in body["messages"]] == ["assistant_message"], body
    assert body["messages"][0]["content"] == "echo: blocking hi"
    assert body["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    assert body["usage"]["step_count"] == 1
    run = client.runs.retrieve(body["messages"][0]["run_id"])
    assert run.conversation_id == conv.id
    assert texts(messages_of(client, conv.id)) == ["blocking hi", "echo: blocking hi"]


def test_send_with_stream_tokens(client, fake, agent):
    conv = client.conversations.create(agent_id=agent.id)
    text = "A reply long enough to arrive in several token chunks, one after another."
    fake.text(text)
    chunks = send(client, conv.id, "tokens please", stream_tokens=True)
    assert chunks[0].message_type == "ping"
    assert_tail(chunks)
    body = chunks[1:-2]
    assert len(body) >= 2 and {c.message_type for c in body} == {"assistant_message"}, types(chunks)
    assert "".join(c.content for c in body) == text
    assert len({c.id for c in body}) == 1
    assert texts(messages_of(client, conv.id)) == ["tokens please", text]


def test_send_errors_before_the_stream(client, http, fake, agent):
    missing = random_id("conv")
    with pytest.raises(letta_client.NotFoundError) as ei:
        send(client, missing, "anyone?")
    assert_not_found(ei.value, missing)
    conv = client.conversations.create(agent_id=agent.id)
    assert_http_error(http.post(f"/v1/conversations/{conv.id}/messages", json={"messages": []}), 422)
    assert fake.requests() == []


def test_background_send_and_resume(client, fake, agent, uid):
    conv = client.conversations.create(agent_id=agent.id)
    otid = str(uuid.uuid4())
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": uid}}]},
        {"text": "resumed answer", "delay_ms": 1000},
    )
    stream = client.conversations.messages.create(conv.id, messages=say("go", otid=otid), background=True)
    first = []
    for chunk in stream:
        first.append(chunk)
        if len(first) == 2:
            break
    stream.close()
    assert types(first) == ["ping", "tool_call_message"], first
    run_id = first[0].run_id
    assert [c.seq_id for c in first] == [1, 2]

    # while the run goes on: the conversation's stream resumes it after the last chunk seen
    with client.conversations.messages.stream(conv.id, starting_after=2) as resumed:
        rest = list(resumed)
    assert types(rest) == ["tool_return_message", "assistant_message", "stop_reason", "usage_statistics"], rest
    assert [c.seq_id for c in rest[:2]] == [3, 4]
    assert {c.run_id for c in rest[:2]} == {run_id}
    assert rest[1].content == "resumed answer"
    assert wait_terminal(client, run_id).status == "completed"

    # by run id and by otid, the whole run again
    for body in ({"run_id": run_id}, {"otid": otid}):
        with client.conversations.messages.stream(conv.id, **body) as again:
            replay = list(again)
        assert [c.seq_id for c in replay if c.message_type not in ("stop_reason", "usage_statistics")] == [1, 2, 3, 4]
        assert replies(replay) == ["resumed answer"], body

    # nothing active any more
    with pytest.raises(letta_client.BadRequestError) as ei:
        with client.conversations.messages.stream(conv.id) as s:
            list(s)
    assert_error_body(ei.value, 400)
    assert ei.value.body["detail"] == "No active runs found for this conversation."


def test_stream_of_a_fresh_conversation_is_400(client, fake, agent):
    conv = client.conversations.create(agent_id=agent.id)
    with pytest.raises(letta_client.BadRequestError) as ei:
        with client.conversations.messages.stream(conv.id) as s:
            list(s)
    assert_error_body(ei.value, 400)
    assert ei.value.body["detail"] == "No active runs found for this conversation."


# -- listing messages ------------------------------------------------------------------------------


def test_list_messages_orders_and_cursors(client, fake, agent):
    conv = client.conversations.create(agent_id=agent.id)
    for word in ("one", "two", "three"):
        send(client, conv.id, word)

    asc = messages_of(client, conv.id, order="asc")
    assert types(asc) == ["system_message"] + ["user_message", "assistant_message"] * 3
    assert texts(asc) == ["one", "echo: one", "two", "echo: two", "three", "echo: three"]
    s, u1, a1, u2, a2, u3, a3 = asc

    desc = client.conversations.messages.list(conv.id).items
    assert keys(desc) == keys(asc[::-1]), "default order: newest first"
    assert keys(client.conversations.messages.list(conv.id, limit=2).items) == keys([a3, u3])
    assert keys(client.conversations.messages.list(conv.id, order="asc", limit=2).items) == keys([s, u1])

    def page(**params):
        return keys(client.conversations.messages.list(conv.id, **params).items)

    # cursors are strict and read in the listing order
    assert page(order="asc", after=u2.id) == keys([a2, u3, a3])
    assert page(order="asc", before=u2.id) == keys([s, u1, a1])
    assert page(order="desc", after=u2.id) == keys([a1, u1, s])
    assert page(order="desc", before=u2.id) == keys([a3, u3, a2])
    assert page(order="asc", after=a3.id) == []


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_sdk_auto_pagination_yields_each_message_once(client, fake, agent, order):
    conv = client.conversations.create(agent_id=agent.id)
    for word in ("one", "two", "three"):
        send(client, conv.id, word)
    expected = keys(messages_of(client, conv.id, order="asc"))
    if order == "desc":
        expected = expected[::-1]

    walked = list(itertools.islice(client.conversations.messages.list(conv.id, order=order, limit=2), 100))
    assert keys(walked) == expected


def test_messages_of_one_conversation_never_reach_another(client, fake, agent, uid):
    a = client.conversations.create(agent_id=agent.id)
    b = client.conversations.create(agent_id=agent.id)
    send(client, a.id, f"alpha {uid}")
    send(client, b.id, f"beta {uid}")
    send(client, b.id, "and again")

    assert texts(messages_of(client, a.id)) == [f"alpha {uid}", f"echo: alpha {uid}"]
    assert texts(messages_of(client, b.id)) == [f"beta {uid}", f"echo: beta {uid}", "and again", "echo: and again"]
    last = fake.requests()[-1]
    assert request_dialogue(last) == [
        ("user", f"beta {uid}"),
        ("assistant", f"echo: beta {uid}"),
        ("user", "and again"),
    ]
    assert f"- CONVERSATION_ID: {b.id}" in request_system(last)
    assert f"alpha {uid}" not in json.dumps(last)


# -- shared memory ---------------------------------------------------------------------------------


def test_a_block_edit_reaches_the_next_turn_of_every_conversation(client, fake, agent, uid):
    a = client.conversations.create(agent_id=agent.id)
    b = client.conversations.create(agent_id=agent.id)
    send(client, b.id, "hello from b")
    b_system_before = text_of(messages_of(client, b.id)[0])

    args = {"label": "human", "old_string": f"Ada {uid}", "new_string": f"Grace {uid}"}
    fake.push({"tool_calls": [{"name": "memory_replace", "arguments": args}]}, {"text": "Noted."})
    send(client, a.id, "call me Grace")
    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == f"Name: Grace {uid}"

    # b's stored system message is only rebuilt by a turn (or a recompile) ...
    assert text_of(messages_of(client, b.id)[0]) == b_system_before
    assert f"Grace {uid}" not in b_system_before
    # ... and b's next turn, the default conversation's, and a new conversation see the edit
    send(client, b.id, "who am I?")
    assert f"Name: Grace {uid}" in request_system(fake.requests()[-1])
    client.agents.messages.create(agent_id=agent.id, input="who am I, by default?")
    assert f"Name: Grace {uid}" in request_system(fake.requests()[-1])
    c = client.conversations.create(agent_id=agent.id)
    assert f"Name: Grace {uid}" in text_of(messages_of(client, c.id)[0])

    # an edit through the blocks API too
    client.agents.blocks.update("human", agent_id=agent.id, value=f"Name: Hopper {uid}")
    send(client, a.id, "and now?")
    assert f"Name: Hopper {uid}" in request_system(fake.requests()[-1])


def test_recompile_with_and_without_dry_run(client, http, agent, uid):
    conv = client.conversations.create(agent_id=agent.id)
    (system_id,) = client.conversations.retrieve(conv.id).in_context_message_ids
    marker = f"RECOMPILE {uid}"
    client.agents.blocks.update("human", agent_id=agent.id, value=f"Name: Ada {marker}")

    r = http.post(f"/v1/conversations/{conv.id}/recompile", params={"dry_run": "true"})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert isinstance(preview, str) and marker in preview
    assert f"- CONVERSATION_ID: {conv.id}" in metadata_of(preview)
    assert marker not in text_of(messages_of(client, conv.id)[0]), "dry_run stored the new prompt"

    # letta-client 1.12.1 returns this route's body as text: the JSON string, quotes included
    compiled = json.loads(client.conversations.recompile(conv.id))
    assert isinstance(compiled, str) and marker in compiled
    # as in Letta, the system message is rewritten in place: same id, new content
    assert client.conversations.retrieve(conv.id).in_context_message_ids == [system_id]
    assert retrieve_message(http, system_id)["content"] == compiled
    assert keys(messages_of(client, conv.id)) == [(system_id, "system_message")]

    # the default conversation through agent-direct mode
    r = http.post("/v1/conversations/default/recompile", json={"agent_id": agent.id})
    assert r.status_code == 200, r.text
    assert marker in r.json() and "- CONVERSATION_ID: default" in metadata_of(r.json())

    missing = random_id("conv")
    assert_not_found(http.post(f"/v1/conversations/{missing}/recompile"), missing)


# -- concurrency -----------------------------------------------------------------------------------


def test_two_conversations_of_one_agent_stream_at_the_same_time(server, client, fake, agent):
    fake.latency(1000)
    convs = [client.conversations.create(agent_id=agent.id).id for _ in range(2)]
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}
    t0 = time.monotonic()

    def run(conv_id: str) -> None:
        c = server.client()
        try:
            barrier.wait(timeout=10)
            start = time.monotonic() - t0
            chunks = send(c, conv_id, f"parallel {conv_id}")
            results[conv_id] = (start, time.monotonic() - t0, chunks)
        except Exception as e:  # reported below
            results[conv_id] = e
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(cid,)) for cid in convs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a stream did not finish within 30s"

    spans = []
    for cid in convs:
        res = results[cid]
        assert not isinstance(res, Exception), f"{cid}: {res!r}"
        start, end, chunks = res
        assert replies(chunks) == [f"echo: parallel {cid}"]
        assert_tail(chunks)
        spans.append((start, end))
        assert end - start >= 1.0, "the fake's latency was not applied"
    # one after the other would take 2 s of model time; together they share that second
    assert max(e for _, e in spans) - min(s for s, _ in spans) < 1.8, f"the turns did not overlap: {spans}"


def test_a_second_send_to_a_busy_conversation_is_409(server, client, fake, agent, uid):
    conv = client.conversations.create(agent_id=agent.id)
    fake.push({"text": "slow reply", "delay_ms": 1500})
    stream = client.conversations.messages.create(conv.id, messages=say("first"))
    it = iter(stream)
    ping = next(it)
    assert ping.message_type == "ping"
    run_id = ping.run_id

    with server.client() as other:
        with pytest.raises(letta_client.ConflictError) as ei:
            send(other, conv.id, f"second {uid}")
    assert_error_body(ei.value, 409)
    assert isinstance(ei.value.body["detail"], str) and ei.value.body["detail"]
    assert ei.value.body.get("run_id") == run_id, ei.value.body

    rest = list(it)
    stream.close()
    assert replies(rest) == ["slow reply"]
    assert replies(send(client, conv.id, "third")) == ["echo: third"]
    assert texts(messages_of(client, conv.id)) == ["first", "slow reply", "third", "echo: third"]


def test_same_otid_background_retry_attaches_to_the_same_run(server, client, fake, agent):
    conv = client.conversations.create(agent_id=agent.id)
    otid = str(uuid.uuid4())
    fake.push({"text": "only once", "delay_ms": 1000})
    stream = client.conversations.messages.create(conv.id, messages=say("retry me", otid=otid), background=True)
    it = iter(stream)
    run_id = next(it).run_id
    assert_id(run_id, "run")

    with server.client() as other:
        with other.conversations.messages.create(conv.id, messages=say("retry me", otid=otid), background=True) as s2:
            retried = list(s2)
    assert {c.run_id for c in retried if getattr(c, "run_id", None)} == {run_id}
    assert replies(retried) == ["only once"]
    list(it)
    stream.close()

    # after the run ended, the same retry still reads that run
    with client.conversations.messages.create(conv.id, messages=say("retry me", otid=otid), background=True) as s3:
        again = list(s3)
    assert {c.run_id for c in again if getattr(c, "run_id", None)} == {run_id}
    assert texts(messages_of(client, conv.id)) == ["retry me", "only once"]
    assert len(fake.requests()) == 1, "the retries started no turn"
    assert [r.id for r in runs_of(client, conversation_id=conv.id)] == [run_id]


# -- cancel ----------------------------------------------------------------------------------------


def test_cancel_the_active_run_of_a_conversation(client, fake, agent):
    conv = client.conversations.create(agent_id=agent.id)
    with pytest.raises(letta_client.ConflictError) as ei:
        client.conversations.cancel(conv.id)
    assert_error_body(ei.value, 409)

    fake.push({"text": "too late", "delay_ms": 3000})
    stream = client.conversations.messages.create(conv.id, messages=say("take your time"), background=True)
    run_id = next(iter(stream)).run_id
    stream.close()
    wait_model_called(fake)
    answer = client.conversations.cancel(conv.id)
    assert answer == {run_id: "cancelled"}, answer
    run = wait_terminal(client, run_id)
    assert (run.status, run.stop_reason) == ("cancelled", "cancelled")

    with pytest.raises(letta_client.ConflictError) as ei:
        client.conversations.cancel(conv.id)
    assert_error_body(ei.value, 409)
    assert replies(send(client, conv.id, "still there?")) == ["echo: still there?"]
    assert "too late" not in texts(messages_of(client, conv.id))


# -- compact ---------------------------------------------------------------------------------------


def test_compact_summarizes_one_conversation_only(client, http, fake, agent):
    fake.system_rule(SUMMARIZER, {"text": "Three words were said."})
    target = client.conversations.create(agent_id=agent.id)
    bystander = client.conversations.create(agent_id=agent.id)
    for word in ("one", "two", "three"):
        send(client, target.id, word)
    send(client, bystander.id, "untouched")
    bystander_ids = client.conversations.retrieve(bystander.id).in_context_message_ids
    default_ids = client.agents.retrieve(agent.id).message_ids

    res = client.conversations.messages.compact(target.id, compaction_settings={"mode": "all"})
    assert res.summary == "Three words were said."
    assert res.num_messages_before == 7
    assert res.num_messages_before > res.num_messages_after
    assert len(client.conversations.retrieve(target.id).in_context_message_ids) == res.num_messages_after

    assert client.conversations.retrieve(bystander.id).in_context_message_ids == bystander_ids
    assert client.agents.retrieve(agent.id).message_ids == default_ids

    send(client, target.id, "what was said?")
    assert "Three words were said." in json.dumps(fake.requests()[-1]["messages"])

    # the raw route with a body of its own
    r = http.post(f"/v1/conversations/{target.id}/compact", json={"compaction_settings": {"mode": "all"}})
    assert r.status_code == 200, r.text
    again = r.json()
    assert set(again) == {"summary", "num_messages_before", "num_messages_after"}
    assert again["num_messages_before"] == res.num_messages_after + 2
    assert again["num_messages_before"] > again["num_messages_after"]


def test_compact_of_a_fresh_or_unknown_conversation(client, http, fake, agent):
    fresh = client.conversations.create(agent_id=agent.id)
    assert_http_error(http.post(f"/v1/conversations/{fresh.id}/compact", json={}), 400)
    missing = random_id("conv")
    assert_not_found(http.post(f"/v1/conversations/{missing}/compact", json={}), missing)
    assert len(client.conversations.retrieve(fresh.id).in_context_message_ids) == 1


# -- preview ---------------------------------------------------------------------------------------


def test_preview_raw_payload_holds_the_conversation_history_only(client, http, fake, agent, uid):
    a = client.conversations.create(agent_id=agent.id)
    b = client.conversations.create(agent_id=agent.id)
    send(client, a.id, f"alpha {uid}")
    send(client, b.id, f"beta {uid}")
    client.agents.messages.create(agent_id=agent.id, input=f"gamma {uid}")
    stored = keys(messages_of(client, b.id))
    sent_before = len(fake.requests())

    r = http.post(f"/v1/conversations/{b.id}/messages/preview-raw-payload", json={"messages": say(f"delta {uid}")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("messages"), list), body
    dump = json.dumps(body)
    assert f"beta {uid}" in dump and f"delta {uid}" in dump
    assert f"alpha {uid}" not in dump and f"gamma {uid}" not in dump
    assert f"- CONVERSATION_ID: {b.id}" in request_system(body)
    assert keys(messages_of(client, b.id)) == stored, "the preview stored something"
    assert len(fake.requests()) == sent_before, "the preview called the model"

    # what a real send of the same input gives the model
    send(client, b.id, f"delta {uid}")
    assert request_dialogue(fake.requests()[-1]) == request_dialogue(body)


# -- the agent's routes and agent-direct mode ------------------------------------------------------


def test_agent_routes_see_the_default_conversation_only(client, fake, agent, uid):
    conv = client.conversations.create(agent_id=agent.id)
    conv_run = send(client, conv.id, f"in the conversation {uid}")[0].run_id
    resp = client.agents.messages.create(agent_id=agent.id, input=f"in the default {uid}")
    default_run = resp.messages[0].run_id

    default = history(client, agent.id)
    assert types(default) == ["system_message", "user_message", "assistant_message"]
    assert texts(default) == [f"in the default {uid}", f"echo: in the default {uid}"]
    assert client.agents.retrieve(agent.id).message_ids == [m.id for m in default]

    scoped = list(client.agents.messages.list(agent.id, conversation_id=conv.id, order="asc", limit=1000))
    assert texts(scoped) == [f"in the conversation {uid}", f"echo: in the conversation {uid}"]

    assert [r.id for r in runs_of(client, conversation_id=conv.id)] == [conv_run]
    assert client.runs.retrieve(conv_run).conversation_id == conv.id
    assert client.runs.retrieve(default_run).conversation_id is None
    assert {r.id for r in runs_of(client, agent_id=agent.id)} == {conv_run, default_run}


def test_agent_direct_mode_acts_on_the_default_conversation(client, http, fake, agent, uid):
    # the agent id in place of a conversation id (deprecated but served)
    assert replies(send(client, agent.id, f"by agent id {uid}")) == [f"echo: by agent id {uid}"]
    # `default` with agent_id in the body
    body = send_blocking(http, "default", f"by default {uid}", agent_id=agent.id)
    assert [m["content"] for m in body["messages"] if m["message_type"] == "assistant_message"] == [
        f"echo: by default {uid}"
    ]
    assert all(m.get("conversation_id") is None for m in body["messages"])

    default = history(client, agent.id)
    assert texts(default) == [
        f"by agent id {uid}",
        f"echo: by agent id {uid}",
        f"by default {uid}",
        f"echo: by default {uid}",
    ]
    by_agent_id = http.get(f"/v1/conversations/{agent.id}/messages", params={"order": "asc"})
    by_default = http.get("/v1/conversations/default/messages", params={"agent_id": agent.id, "order": "asc"})
    for r in (by_agent_id, by_default):
        assert r.status_code == 200, r.text
        assert [(m["id"], m["message_type"]) for m in r.json()] == keys(default)
    assert client.conversations.list(agent_id=agent.id) == [], "the default conversation is not listed"

    r = http.post("/v1/conversations/default/cancel", params={"agent_id": agent.id})
    assert_http_error(r, 409)
    missing = random_id("agent")
    r = http.post("/v1/conversations/default/messages", json={"agent_id": missing, "messages": say("x")})
    assert_not_found(r, missing)


def test_message_search_by_conversation_stays_in_that_thread(client, fake, agent, uid):
    a = client.conversations.create(agent_id=agent.id)
    b = client.conversations.create(agent_id=agent.id)
    send(client, a.id, f"papaya in a {uid}")
    send(client, b.id, f"papaya in b {uid}")
    client.agents.messages.create(agent_id=agent.id, input=f"papaya by default {uid}")

    def found(conversation_id=None) -> set[str]:
        hits = client.messages.search(
            query="papaya", agent_id=agent.id, conversation_id=conversation_id, search_mode="fts"
        )
        return {r.content for r in hits if r.message_type == "user_message"}

    # Without a conversation the whole agent is searched: memory spans its conversations.
    assert found() == {f"papaya in a {uid}", f"papaya in b {uid}", f"papaya by default {uid}"}
    assert found(a.id) == {f"papaya in a {uid}"}
    assert found("default") == {f"papaya by default {uid}"}
    other = make_agent(client, f"other-{uid}")
    with pytest.raises(letta_client.NotFoundError):
        client.messages.search(query="papaya", agent_id=other.id, conversation_id=a.id)


def test_context_overview_of_a_conversation(client, http, fake, agent, uid):
    c = client.conversations.create(agent_id=agent.id)
    send(client, c.id, f"only here {uid}")
    r = http.get(f"/v1/agents/{agent.id}/context", params={"conversation_id": c.id})
    assert r.status_code == 200, r.text
    overview = r.json()
    in_context = client.conversations.retrieve(c.id).in_context_message_ids
    assert overview["num_messages"] == len(in_context) == 3
    assert f"- CONVERSATION_ID: {c.id}" in overview["system_prompt"] + overview["external_memory_summary"]
    # The agent's own thread is untouched by the conversation's turn.
    default = http.get(f"/v1/agents/{agent.id}/context").json()
    assert default["num_messages"] == 1
    other = make_agent(client, f"other-{uid}")
    assert http.get(f"/v1/agents/{other.id}/context", params={"conversation_id": c.id}).status_code == 404
