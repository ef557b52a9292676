"""A seed-era application's agent flow through letta-client 0.1.324: create an agent with memory
blocks, message it, list and stream its messages, modify and delete it, and the errors it sees.

Every test here scripts the session's fake LLM (the `fake` fixture resets it), so the tests must
run serially against the shared server.
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid

import letta_client
import pytest
from letta_client import CreateBlock

from _seed import MODEL, assert_api_error, assert_id, checked, text_of, user

# What each `message_type` must parse to: the SDK falls back to the union's first member
# (SystemMessage) when a body fits none, so a wrong class is how a bad message shows.
MESSAGE_CLASSES: dict[str, type] = {
    "system_message": letta_client.SystemMessage,
    "user_message": letta_client.UserMessage,
    "reasoning_message": letta_client.ReasoningMessage,
    "tool_call_message": letta_client.ToolCallMessage,
    "tool_return_message": letta_client.ToolReturnMessage,
    "assistant_message": letta_client.AssistantMessage,
    "ping": letta_client.LettaPing,
    "stop_reason": letta_client.LettaStopReason,
    "usage_statistics": letta_client.LettaUsageStatistics,
}


def assert_classes(items: typing.Iterable) -> list[str]:
    """Each item parsed to the class its `message_type` names; returns the types in order."""
    seen = []
    for item in items:
        kind = item.message_type
        assert isinstance(item, MESSAGE_CLASSES[kind]), f"{kind} parsed as {type(item).__name__}: {item!r}"
        seen.append(kind)
    return seen


@pytest.fixture
def agent(client, uid) -> letta_client.AgentState:
    resp = client.agents.with_raw_response.create(
        name=f"seed-{uid}",
        model=MODEL,
        memory_blocks=[
            CreateBlock(label="human", value=f"Name: Ada {uid}"),
            CreateBlock(label="persona", value="I am terse.", limit=500),
        ],
    )
    return checked(resp, letta_client.AgentState)


def test_agent_is_created_with_its_memory_blocks(client, agent, uid):
    assert_id(agent.id, "agent")
    assert agent.name == f"seed-{uid}"
    assert isinstance(agent.created_at, dt.datetime)
    assert agent.llm_config.handle == MODEL
    # A seed-era client gets every relationship without asking for it.
    blocks = {b.label: b for b in agent.memory.blocks}
    assert blocks["human"].value == f"Name: Ada {uid}"
    assert (blocks["persona"].value, blocks["persona"].limit) == ("I am terse.", 500)
    assert agent.tools, "the agent has no tools"
    assert all(isinstance(t, letta_client.Tool) for t in agent.tools)
    read = checked(client.agents.with_raw_response.retrieve(agent.id), letta_client.AgentState)
    assert {b.label: b.value for b in read.memory.blocks} == {b.label: b.value for b in agent.memory.blocks}
    listed = checked(client.agents.with_raw_response.list(name=agent.name), list[letta_client.AgentState])
    assert isinstance(listed, list) and [a.id for a in listed] == [agent.id]


def test_a_message_gets_the_models_reply_and_is_stored(client, fake, agent):
    fake.text("Hello, Ada.")
    resp = client.agents.messages.with_raw_response.create(agent.id, messages=user("hi there"))
    resp = checked(resp, letta_client.LettaResponse)
    assert assert_classes(resp.messages) == ["assistant_message"]
    assert text_of(resp.messages[0]) == "Hello, Ada."
    assert resp.stop_reason.stop_reason == "end_turn"
    assert resp.usage.step_count == 1 and resp.usage.total_tokens > 0
    # The history is a plain list, oldest first: the system prompt, the input, the reply.
    listed = client.agents.messages.with_raw_response.list(agent.id, limit=100)
    history = checked(listed, list[letta_client.LettaMessageUnion])
    assert isinstance(history, list)
    assert assert_classes(history) == ["system_message", "user_message", "assistant_message"]
    assert text_of(history[1]) == "hi there"
    assert history[2].id == resp.messages[0].id
    assert isinstance(history[2].date, dt.datetime)


def test_history_is_paged_by_hand_with_cursors(client, fake, agent):
    # Plain arrays: no auto-pagination, so seed-era code walks back with `before`.
    for word in ("one", "two", "three"):
        fake.text(f"ack {word}")
        client.agents.messages.create(agent.id, messages=user(word))
    everything = client.agents.messages.list(agent.id, limit=100)
    texts = [text_of(m) for m in everything[1:]]
    assert texts == ["one", "ack one", "two", "ack two", "three", "ack three"]
    # The newest rows, oldest first; then the ones before them; then after a cursor.
    newest = client.agents.messages.list(agent.id, limit=2)
    assert [text_of(m) for m in newest] == ["three", "ack three"]
    older = client.agents.messages.list(agent.id, limit=2, before=newest[0].id)
    assert [text_of(m) for m in older] == ["two", "ack two"]
    later = client.agents.messages.list(agent.id, after=everything[2].id)
    assert [text_of(m) for m in later] == ["two", "ack two", "three", "ack three"]


def test_a_streamed_message_yields_the_reply_then_the_stop_reason(client, fake, agent):
    fake.text("Streamed hello.")
    items = list(client.agents.messages.create_stream(agent.id, messages=user("stream please")))
    kinds = assert_classes(items)
    # The SDK parses `data: [DONE]` to nothing and drops it; what remains is the turn.
    assert [k for k in kinds if k != "ping"] == ["assistant_message", "stop_reason", "usage_statistics"]
    reply = next(i for i in items if i.message_type == "assistant_message")
    assert text_of(reply) == "Streamed hello."
    stop = next(i for i in items if i.message_type == "stop_reason")
    assert stop.stop_reason == "end_turn"
    stored = client.agents.messages.list(agent.id, limit=100)
    assert stored[-1].id == reply.id and text_of(stored[-1]) == "Streamed hello."


def test_a_token_stream_adds_up_to_the_reply(client, fake, agent):
    fake.text("One two three four five.")
    items = list(
        client.agents.messages.create_stream(agent.id, messages=user("count"), stream_tokens=True)
    )
    assert_classes(items)
    parts = [i for i in items if i.message_type == "assistant_message"]
    assert len(parts) > 1, "the reply came in one piece"
    assert "".join(text_of(p) for p in parts) == "One two three four five."
    assert [i.stop_reason for i in items if i.message_type == "stop_reason"] == ["end_turn"]


def test_a_model_failure_mid_stream_is_an_item_not_an_exception(client, fake, agent):
    # The seed SDK does not look at SSE event names: `event: error` is one more item, and as no
    # message class fits `error_message` it comes out as the union's first, SystemMessage.
    for _ in range(4):  # the first call and the server's three retries all fail
        fake.error(500)
    items = list(client.agents.messages.create_stream(agent.id, messages=user("fail please")))
    kinds = [i.message_type for i in items if i.message_type != "ping"]
    assert kinds == ["stop_reason", "error_message"], items
    assert items[-2].stop_reason == "llm_api_error"
    error = items[-1]
    assert error.error_type == "llm_error" and "500" in error.message, error
    # A failure before a non-streamed reply is an ApiError with the status and the body.
    fake.reset()
    fake.error(401)
    with pytest.raises(letta_client.core.ApiError) as exc:
        client.agents.messages.create(agent.id, messages=user("fail again"))
    assert exc.value.status_code == 401
    assert exc.value.body["error"]["type"] == "llm_authentication", exc.value.body


def test_agent_and_block_are_modified_then_the_agent_is_deleted(client, agent, uid):
    changed = client.agents.with_raw_response.modify(agent.id, name=f"renamed-{uid}", description="A tester.")
    changed = checked(changed, letta_client.AgentState)
    assert (changed.name, changed.description) == (f"renamed-{uid}", "A tester.")
    block = checked(
        client.agents.blocks.with_raw_response.modify(agent.id, "human", value="Name: Grace"),
        letta_client.Block,
    )
    assert block.value == "Name: Grace"
    read = client.agents.retrieve(agent.id)
    assert read.name == f"renamed-{uid}"
    assert {b.label: b.value for b in read.memory.blocks}["human"] == "Name: Grace"
    client.agents.delete(agent.id)
    with pytest.raises(letta_client.core.ApiError) as exc:
        client.agents.retrieve(agent.id)
    assert_api_error(exc.value, 404)
    assert client.agents.list(name=f"renamed-{uid}") == []


def test_errors_are_api_errors_with_the_status(client, agent):
    missing = f"agent-{uuid.uuid4()}"
    for call in (
        lambda: client.agents.retrieve(missing),
        lambda: client.agents.messages.create(missing, messages=user("anyone?")),
        lambda: client.agents.messages.list(missing),
    ):
        with pytest.raises(letta_client.core.ApiError) as exc:
            call()
        assert_api_error(exc.value, 404)
    # A request the server cannot accept: 422, whose body the SDK reads as HTTPValidationError.
    # Its `detail` names the problem; Letta sends a string there, the spec a list, so either.
    with pytest.raises(letta_client.UnprocessableEntityError) as exc:
        client.agents.messages.create(agent.id, messages=[{"role": "narrator", "content": "x"}])
    assert exc.value.status_code == 422
    assert isinstance(exc.value.body, letta_client.HttpValidationError), exc.value.body
    assert "narrator" in str(exc.value.body.detail), exc.value.body
