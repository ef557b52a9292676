"""Streaming turns through letta-client 1.12.1: SSE step and token streams, background runs and
resume, async messages and cancellation (letta-api.md sections 9-11 and 14).

Every test here scripts the session's fake LLM (the `fake` fixture resets it), so the tests must
run serially against the shared server.
"""

from __future__ import annotations

import json
import time
import warnings

import letta_client
import pytest

from _helpers import (
    assert_error_body,
    assert_http_error,
    assert_id,
    history,
    make_agent,
    of_type,
    random_id,
    text_of,
    tool_call_of,
    types,
    wait_model_called,
)

TERMINAL = {"completed", "failed", "cancelled"}
CHUNK_TYPES_WITH_SEQ = {
    "ping",
    "assistant_message",
    "reasoning_message",
    "tool_call_message",
    "tool_return_message",
}


@pytest.fixture
def agent(client, uid):
    return make_agent(client, f"stream-{uid}")


def say(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def open_stream(client, agent_id: str, text: str, **kwargs):
    """`POST /v1/agents/{id}/messages` with `streaming=true`, the 1.x SDK's way to stream."""
    return client.agents.messages.create(agent_id=agent_id, messages=say(text), streaming=True, **kwargs)


def collect(stream) -> list:
    """Every chunk of a stream; the SDK stops at `data: [DONE]`."""
    with stream:
        return list(stream)


def timed(stream, t0: float) -> list[tuple[float, object]]:
    """(seconds since t0, chunk) for every chunk, plus (seconds, None) for the end of iteration."""
    out: list[tuple[float, object]] = []
    with stream:
        for chunk in stream:
            out.append((time.monotonic() - t0, chunk))
    out.append((time.monotonic() - t0, None))
    return out


def message_chunks(chunks) -> list:
    return [c for c in chunks if c.message_type not in ("ping", "stop_reason", "usage_statistics")]


def tool_call_delta(chunk):
    """The tool call (or delta) of a tool_call_message chunk: `tool_calls` may be one delta."""
    calls = chunk.tool_calls
    if isinstance(calls, list):
        return calls[0] if calls else chunk.tool_call
    return calls if calls is not None else chunk.tool_call


def args_text(chunks) -> str:
    return "".join((tool_call_delta(c).arguments or "") for c in chunks)


def assert_tail(chunks, stop_reason: str = "end_turn", step_count: int | None = None) -> None:
    """The stream ended with stop_reason then usage_statistics."""
    assert types(chunks[-2:]) == ["stop_reason", "usage_statistics"], types(chunks)
    assert chunks[-2].stop_reason == stop_reason
    usage = chunks[-1]
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    if step_count is not None:
        assert usage.step_count == step_count


def wait_terminal(client, run_id: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        run = client.runs.retrieve(run_id)
        if run.status in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.status!r} after {timeout}s"
        time.sleep(0.1)


def sse_events(raw: bytes) -> list[list[str]]:
    """Split an SSE body into events (lists of lines); asserts the blank-line framing."""
    text = raw.decode("utf-8")
    assert "\r" not in text, "events are separated by \\n\\n"
    assert text.endswith("\n\n"), f"the body does not end with a blank line: {text[-80:]!r}"
    return [block.split("\n") for block in text[:-2].split("\n\n")]


# -- step streaming ----------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["create_streaming", "deprecated_stream"])
def test_step_stream_is_ping_messages_stop_reason_usage(client, fake, agent, entry):
    if entry == "create_streaming":
        stream = open_stream(client, agent.id, "hi")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            stream = client.agents.messages.stream(agent_id=agent.id, messages=say("hi"))
    chunks = collect(stream)

    assert types(chunks) == ["ping", "assistant_message", "stop_reason", "usage_statistics"], chunks
    ping, reply = chunks[0], chunks[1]
    assert_id(ping.run_id, "run")
    assert reply.content == "echo: hi"
    assert_id(reply.id, "message")
    assert_id(reply.step_id, "step")
    assert reply.run_id == ping.run_id
    assert reply.seq_id is None, "seq_id is only set in background streams"
    assert_tail(chunks, "end_turn", step_count=1)

    # what is stored is what was streamed; the run is complete
    stored = history(client, agent.id)
    assert types(stored) == ["system_message", "user_message", "assistant_message"]
    assert text_of(stored[1]) == "hi"
    assert stored[2].id == reply.id and text_of(stored[2]) == "echo: hi"
    run = client.runs.retrieve(ping.run_id)
    assert run.status == "completed" and run.stop_reason == "end_turn"
    assert run.agent_id == agent.id


def test_step_stream_of_a_two_step_turn(client, fake, agent, uid):
    args = {"label": "persona", "new_string": f"Likes tea {uid}"}
    fake.push({"tool_calls": [{"name": "memory_insert", "arguments": args}]}, {"text": "Noted."})

    chunks = collect(open_stream(client, agent.id, "remember tea"))

    assert types(chunks) == [
        "ping",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
        "stop_reason",
        "usage_statistics",
    ], chunks
    call_msg, ret, answer = chunks[1:4]
    call = tool_call_delta(call_msg)
    assert call.name == "memory_insert"
    assert json.loads(call.arguments) == args
    assert ret.status == "success"
    assert ret.tool_call_id == call.tool_call_id
    assert answer.content == "Noted."
    assert call_msg.step_id == ret.step_id != answer.step_id
    assert {c.run_id for c in chunks[:4]} == {chunks[0].run_id}
    assert_tail(chunks, "end_turn", step_count=2)

    stored = history(client, agent.id)
    assert types(stored[1:]) == ["user_message", "tool_call_message", "tool_return_message", "assistant_message"]
    assert [m.id for m in stored[2:]] == [m.id for m in chunks[1:4]]
    assert client.agents.blocks.retrieve("persona", agent_id=agent.id).value.endswith(f"Likes tea {uid}")


def test_include_pings_false_has_no_ping(client, fake, agent):
    chunks = collect(open_stream(client, agent.id, "quiet", include_pings=False))
    assert types(chunks) == ["assistant_message", "stop_reason", "usage_statistics"], chunks
    assert chunks[0].content == "echo: quiet"


# -- token streaming ---------------------------------------------------------------------------------


def test_token_stream_of_a_text_reply(client, fake, agent):
    text = "The quick brown fox jumps over the lazy dog, twice and then once more."
    fake.text(text)

    chunks = collect(open_stream(client, agent.id, "tell me", stream_tokens=True))

    assert chunks[0].message_type == "ping"
    assert_tail(chunks, "end_turn", step_count=1)
    body = chunks[1:-2]
    assert body and all(c.message_type == "assistant_message" for c in body), types(chunks)
    assert len(body) >= 3, f"expected several token chunks, got {len(body)}: {[c.content for c in body]}"
    assert "".join(c.content for c in body) == text
    ids = {c.id for c in body}
    assert len(ids) == 1, f"token chunks of one message must share its id: {ids}"
    (msg_id,) = ids
    assert_id(msg_id, "message")

    stored = of_type(history(client, agent.id), "assistant_message")
    assert [m.id for m in stored] == [msg_id]
    assert text_of(stored[0]) == text


def test_token_stream_of_a_memgpt_v2_send_message(client, fake, uid):
    agent = make_agent(client, f"stream-v2-{uid}", agent_type="memgpt_v2_agent")
    # with nothing queued the fake answers through send_message({"message": "echo: ..."})
    chunks = collect(open_stream(client, agent.id, "hello there my friend", stream_tokens=True))

    assert chunks[0].message_type == "ping"
    assert_tail(chunks, "end_turn", step_count=1)
    body = chunks[1:-2]
    assert all(c.message_type == "assistant_message" for c in body), (
        f"send_message must stream as assistant_message only, got {types(chunks)}"
    )
    assert len(body) >= 2, [c.content for c in body]
    assert "".join(c.content for c in body) == "echo: hello there my friend"
    assert len({c.id for c in body}) == 1

    stored = of_type(history(client, agent.id), "assistant_message")
    assert [m.id for m in stored] == [body[0].id]
    assert text_of(stored[0]) == "echo: hello there my friend"


def test_token_stream_of_a_tool_call(client, fake, agent, uid):
    args = {"label": "persona", "new_string": f"Likes long walks on the beach {uid}"}
    fake.push({"tool_calls": [{"name": "memory_insert", "arguments": args}]}, {"text": "ok"})

    chunks = collect(open_stream(client, agent.id, "remember walks", stream_tokens=True))

    assert chunks[0].message_type == "ping"
    assert_tail(chunks, "end_turn", step_count=2)
    kinds = types(chunks[1:-2])
    n_calls = kinds.count("tool_call_message")
    assert n_calls >= 2, f"tool call arguments should arrive in pieces: {kinds}"
    assert kinds[:n_calls] == ["tool_call_message"] * n_calls, kinds
    assert kinds[n_calls] == "tool_return_message", kinds
    assert set(kinds[n_calls + 1 :]) == {"assistant_message"}, kinds

    call_chunks = chunks[1 : 1 + n_calls]
    assert len({c.id for c in call_chunks}) == 1, "deltas of one tool call share the message id"
    names = [tool_call_delta(c).name for c in call_chunks if tool_call_delta(c).name]
    assert names and set(names) == {"memory_insert"}, names
    assert json.loads(args_text(call_chunks)) == args
    call_ids = {tool_call_delta(c).tool_call_id for c in call_chunks} - {None}
    assert len(call_ids) == 1, call_ids
    ret = chunks[1 + n_calls]
    assert ret.status == "success"
    assert ret.tool_call_id == call_ids.pop()
    assert "".join(c.content for c in chunks[2 + n_calls : -2]) == "ok"

    stored = history(client, agent.id)
    stored_call = of_type(stored, "tool_call_message")
    assert [m.id for m in stored_call] == [call_chunks[0].id]
    assert json.loads(tool_call_of(stored_call[0]).arguments) == args


def test_first_chunk_arrives_before_the_model_finishes(client, fake, agent, uid):
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": uid}}]},
        {"text": "slow answer", "delay_ms": 1500},
    )
    t0 = time.monotonic()
    got = timed(open_stream(client, agent.id, "be slow"), t0)

    chunks = [c for _, c in got if c is not None]
    assert types(chunks) == [
        "ping",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
        "stop_reason",
        "usage_statistics",
    ], chunks
    at = {c.message_type: t for t, c in got if c is not None}
    end = got[-1][0]
    assert at["ping"] < 1.0, f"ping after {at['ping']:.2f}s"
    assert at["tool_call_message"] < 1.0, f"tool call after {at['tool_call_message']:.2f}s: not streamed"
    assert at["tool_return_message"] < 1.0, f"tool return after {at['tool_return_message']:.2f}s"
    assert at["assistant_message"] >= 1.4, f"reply after {at['assistant_message']:.2f}s"
    assert end >= 1.5, f"stream ended after {end:.2f}s, before the delayed reply"
    assert chunks[3].content == "slow answer"


# -- background streams and resume ---------------------------------------------------------------------


def test_background_stream_resumes_without_gap_or_duplicate(client, fake, agent, uid):
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": uid}}]},
        {"text": "resumed answer", "delay_ms": 800},
    )

    stream = open_stream(client, agent.id, "go to the background", background=True)
    first: list = []
    for chunk in stream:
        first.append(chunk)
        if len(first) == 2:
            break
    stream.close()

    assert types(first) == ["ping", "tool_call_message"], first
    run_id = first[0].run_id
    assert_id(run_id, "run")
    for c in first:
        assert c.run_id == run_id
        assert isinstance(c.seq_id, int) and not isinstance(c.seq_id, bool), f"{c.message_type}: seq_id {c.seq_id!r}"
    assert first[0].seq_id == 1, "the per-run log starts at 1"
    assert first[1].seq_id == 2
    last_seen = first[-1].seq_id

    # the run went on without the client
    rest = collect(client.runs.messages.stream(run_id, starting_after=last_seen))
    assert types(rest) == ["tool_return_message", "assistant_message", "stop_reason", "usage_statistics"], rest
    seqs = [c.seq_id for c in message_chunks(rest)]
    assert seqs == list(range(last_seen + 1, last_seen + 1 + len(seqs))), f"gap or duplicate: {last_seen} then {seqs}"
    assert all(c.run_id == run_id for c in message_chunks(rest))
    assert rest[1].content == "resumed answer"
    assert rest[0].tool_call_id == tool_call_delta(first[1]).tool_call_id
    assert_tail(rest, "end_turn", step_count=2)

    run = client.runs.retrieve(run_id)
    assert run.status == "completed" and run.stop_reason == "end_turn"
    assert run.background is True

    # from the start after the run finished: everything again, same seq_ids and ids
    replay = collect(client.runs.messages.stream(run_id, starting_after=0))
    assert types(replay) == types(first) + types(rest), replay
    seen = first + message_chunks(rest)
    assert [c.seq_id for c in replay if c.message_type in CHUNK_TYPES_WITH_SEQ] == [c.seq_id for c in seen]
    assert [c.id for c in replay[1:4]] == [c.id for c in seen[1:4]]
    assert_tail(replay, "end_turn", step_count=2)

    # the default (no starting_after) also replays from the start
    again = collect(client.runs.messages.stream(run_id))
    assert [c.seq_id for c in message_chunks(again)] == [c.seq_id for c in message_chunks(replay)]

    stored = history(client, agent.id)
    assert types(stored[1:]) == ["user_message", "tool_call_message", "tool_return_message", "assistant_message"]
    assert [m.id for m in stored[2:]] == [c.id for c in seen[1:4]]


def test_background_stream_read_to_the_end_has_consecutive_seq_ids(client, fake, agent):
    chunks = collect(open_stream(client, agent.id, "all at once", background=True, stream_tokens=True))
    assert chunks[0].message_type == "ping"
    assert_tail(chunks, "end_turn", step_count=1)
    body = message_chunks(chunks)
    assert body and {c.message_type for c in body} == {"assistant_message"}
    assert "".join(c.content for c in body) == "echo: all at once"
    seqs = [c.seq_id for c in chunks[:-2]]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert {c.run_id for c in chunks[:-2]} == {chunks[0].run_id}


def test_resume_of_a_foreground_run_is_400(client, fake, agent):
    chunks = collect(open_stream(client, agent.id, "not in the background"))
    run_id = chunks[0].run_id
    assert_id(run_id, "run")
    with pytest.raises(letta_client.BadRequestError) as ei:
        collect(client.runs.messages.stream(run_id))
    assert_error_body(ei.value, 400)

    # a blocking turn's run cannot be resumed either
    resp = client.agents.messages.create(agent_id=agent.id, input="blocking")
    with pytest.raises(letta_client.BadRequestError) as ei:
        collect(client.runs.messages.stream(resp.messages[0].run_id, starting_after=0))
    assert_error_body(ei.value, 400)


def test_resume_of_an_unknown_run_is_404(client):
    with pytest.raises(letta_client.NotFoundError) as ei:
        collect(client.runs.messages.stream(random_id("run")))
    assert_error_body(ei.value, 404)


# -- async messages and cancellation ------------------------------------------------------------------


def test_async_message_completes(client, fake, agent):
    run = client.agents.messages.create_async(agent_id=agent.id, messages=say("async hello"))
    assert_id(run.id, "run")
    assert run.agent_id == agent.id
    assert run.status in ("created", "running")

    done = wait_terminal(client, run.id)
    assert done.status == "completed" and done.stop_reason == "end_turn"
    msgs = list(client.runs.messages.list(run.id))
    assert types(msgs) == ["user_message", "assistant_message"]
    assert msgs[1].content == "echo: async hello"
    assert msgs[1].run_id == run.id


def test_cancel_an_async_run(client, fake, agent, uid):
    late = f"too late {uid}"
    fake.push({"text": late, "delay_ms": 3000})

    run = client.agents.messages.create_async(agent_id=agent.id, messages=say("take your time"))
    assert run.status in ("created", "running"), run.status
    wait_model_called(fake)
    answer = client.agents.messages.cancel(agent.id, run_ids=[run.id])
    assert answer == {run.id: "cancelled"}, answer

    done = wait_terminal(client, run.id)
    assert done.status == "cancelled", done.status
    assert done.stop_reason == "cancelled", done.stop_reason

    # the cancelled step stored nothing
    time.sleep(3.2)  # past the scripted delay: a late reply must not be stored either
    stored = history(client, agent.id)
    assert of_type(stored, "assistant_message") == [], stored
    assert late not in [text_of(m) for m in stored if m.message_type in ("assistant_message", "system_message")]
    assert client.runs.retrieve(run.id).status == "cancelled"

    # the agent answers the next message normally
    resp = client.agents.messages.create(agent_id=agent.id, input="are you there?")
    assert [m.content for m in of_type(resp.messages, "assistant_message")] == ["echo: are you there?"]
    assert resp.stop_reason.stop_reason == "end_turn"
    sent = json.dumps(fake.requests()[-1]["messages"])
    assert late not in sent, "the cancelled reply reached the next request"


def test_cancel_all_active_runs_of_the_agent(client, fake, agent):
    fake.push({"text": "never seen", "delay_ms": 3000})
    run = client.agents.messages.create_async(agent_id=agent.id, messages=say("slow"))
    wait_model_called(fake)
    answer = client.agents.messages.cancel(agent.id)
    assert answer == {run.id: "cancelled"}, answer
    done = wait_terminal(client, run.id)
    assert (done.status, done.stop_reason) == ("cancelled", "cancelled")


def test_cancel_a_stream_mid_flight(server, client, fake, agent, uid):
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": uid}}]},
        {"text": "never streamed", "delay_ms": 3000},
    )
    stream = open_stream(client, agent.id, "stream then cancel")
    got: list = []
    with stream:
        for chunk in stream:
            got.append(chunk)
            if chunk.message_type == "tool_return_message":
                with server.client() as other:
                    answer = other.agents.messages.cancel(agent.id, run_ids=[got[0].run_id])
                assert answer == {got[0].run_id: "cancelled"}, answer
    kinds = types(got)
    assert kinds[:3] == ["ping", "tool_call_message", "tool_return_message"], kinds
    assert "assistant_message" not in kinds, kinds
    stops = of_type(got, "stop_reason")
    assert [s.stop_reason for s in stops] == ["cancelled"], kinds
    run = wait_terminal(client, got[0].run_id)
    assert (run.status, run.stop_reason) == ("cancelled", "cancelled")
    assert of_type(history(client, agent.id), "assistant_message") == []


def test_cancel_without_active_run_is_409(client, fake, agent):
    with pytest.raises(letta_client.ConflictError) as ei:
        client.agents.messages.cancel(agent.id)
    assert_error_body(ei.value, 409)

    # a finished run is not active either
    client.agents.messages.create(agent_id=agent.id, input="done already")
    with pytest.raises(letta_client.ConflictError) as ei:
        client.agents.messages.cancel(agent.id)
    assert_error_body(ei.value, 409)


# -- mid-stream errors ---------------------------------------------------------------------------------


def test_provider_error_mid_stream_raises_after_the_tool_call(client, fake, agent, uid):
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": uid}}]},
        {"error": {"status": 401}},
    )
    got: list = []
    with pytest.raises(letta_client.APIStatusError) as ei:
        with open_stream(client, agent.id, "fail later") as stream:
            for chunk in stream:
                got.append(chunk)

    assert types(got) == ["ping", "tool_call_message", "tool_return_message", "stop_reason"], got
    assert got[-1].stop_reason == "llm_api_error"
    err = ei.value
    assert err.status_code == 200, "the error arrives inside the 200 stream"
    assert isinstance(err.body, dict), err.body
    assert err.body["message_type"] == "error_message"
    assert err.body["run_id"] == got[0].run_id
    assert err.body["error_type"] == "llm_authentication", err.body
    assert isinstance(err.body["message"], str) and err.body["message"]

    run = wait_terminal(client, got[0].run_id)
    assert run.status == "failed" and run.stop_reason == "llm_api_error"
    # the first step completed and stays stored; no reply was stored
    stored = history(client, agent.id)
    assert types(stored[1:]) == ["user_message", "tool_call_message", "tool_return_message"]


def test_provider_error_mid_stream_raw_frames(http, fake, agent, uid):
    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": uid}}]},
        {"error": {"status": 401}},
    )
    with http.stream("POST", f"/v1/agents/{agent.id}/messages/stream", json={"messages": say("fail raw")}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read()
    events = sse_events(raw)
    assert events[-1] == ["data: [DONE]"], events[-3:]
    err_event = events[-2]
    assert len(err_event) == 2 and err_event[0] == "event: error", events[-3:]
    assert err_event[1].startswith("data: ")
    err = json.loads(err_event[1][len("data: ") :])
    assert err["message_type"] == "error_message"
    assert err["error_type"] and err["message"]
    stop = events[-3]
    assert len(stop) == 1 and stop[0].startswith("data: "), events[-3:]
    assert json.loads(stop[0][len("data: ") :]) == {"message_type": "stop_reason", "stop_reason": "llm_api_error"}
    first = [json.loads(e[0][len("data: ") :]) for e in events[:-3]]
    assert [f["message_type"] for f in first] == ["ping", "tool_call_message", "tool_return_message"]
    assert err["run_id"] == first[0]["run_id"]


# -- raw framing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream_tokens", [False, True])
def test_raw_sse_framing(http, fake, agent, stream_tokens):
    fake.text("framed reply with a few words")
    body = {"messages": say("frame it"), "streaming": True, "stream_tokens": stream_tokens}
    arrivals: list[bytes] = []
    with http.stream("POST", f"/v1/agents/{agent.id}/messages", json=body) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].split(";")[0].strip() == "text/event-stream", r.headers
        for piece in r.iter_bytes():
            arrivals.append(piece)
        assert r.is_stream_consumed
    raw = b"".join(arrivals)
    # the connection ended right after [DONE]: the body's last bytes are the [DONE] event
    assert raw.endswith(b"data: [DONE]\n\n"), raw[-120:]
    assert raw.count(b"[DONE]") == 1

    events = sse_events(raw)
    for ev in events:
        assert len(ev) == 1, f"one line per event, no event:/id: lines: {ev}"
        assert ev[0].startswith("data: "), ev
    assert events[-1] == ["data: [DONE]"]
    payloads = [json.loads(ev[0][len("data: ") :]) for ev in events[:-1]]
    for p in payloads:
        assert isinstance(p, dict) and "message_type" in p, p
    kinds = [p["message_type"] for p in payloads]
    assert kinds[0] == "ping" and kinds[-2:] == ["stop_reason", "usage_statistics"], kinds
    replies = [p for p in payloads if p["message_type"] == "assistant_message"]
    assert "".join(p["content"] for p in replies) == "framed reply with a few words"
    if stream_tokens:
        assert len(replies) >= 2
    else:
        assert len(replies) == 1
    assert payloads[-2] == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    for p in payloads[:-2]:
        assert p["run_id"] == payloads[0]["run_id"]
        assert p["seq_id"] is None
        assert "date" in p and "id" in p


def test_stream_closes_after_done(server, fake, agent):
    """After `[DONE]` the server ends the response: reading to EOF does not hang."""
    import socket

    host, port = server.addr.rsplit(":", 1)
    payload = json.dumps({"messages": say("close me")}).encode()
    req = (
        f"POST /v1/agents/{agent.id}/messages/stream HTTP/1.1\r\nHost: {server.addr}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(req)
        data = b""
        t_done = None
        while True:
            try:
                piece = sock.recv(65536)
            except socket.timeout:
                break
            if not piece:
                break
            data += piece
            if t_done is None and b"data: [DONE]" in data:
                t_done = time.monotonic()
            # a chunked body ends with the zero-length chunk
            if t_done is not None and data.endswith(b"0\r\n\r\n"):
                break
    assert t_done is not None, data[-300:]
    assert data.endswith(b"0\r\n\r\n"), f"the response did not end after [DONE]: {data[-200:]!r}"
    assert time.monotonic() - t_done < 2.0
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 200"), head
    assert "text/event-stream" in head.lower(), head


# -- errors before the stream starts ---------------------------------------------------------------------


def test_stream_to_unknown_agent_is_plain_404(client, http, fake):
    missing = random_id("agent")
    with pytest.raises(letta_client.NotFoundError) as ei:
        collect(client.agents.messages.create(agent_id=missing, messages=say("anyone?"), streaming=True))
    assert_error_body(ei.value, 404)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(letta_client.NotFoundError) as ei:
            collect(client.agents.messages.stream(agent_id=missing, messages=say("anyone?")))
    assert_error_body(ei.value, 404)
    assert_http_error(http.post(f"/v1/agents/{missing}/messages/stream", json={"messages": say("x")}), 404)
    assert fake.requests() == []


def test_stream_with_empty_messages_is_plain_422(client, http, fake, agent):
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        collect(client.agents.messages.create(agent_id=agent.id, messages=[], streaming=True))
    assert_error_body(ei.value, 422)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(letta_client.UnprocessableEntityError) as ei:
            collect(client.agents.messages.stream(agent_id=agent.id, messages=[]))
    assert_error_body(ei.value, 422)
    assert_http_error(http.post(f"/v1/agents/{agent.id}/messages/stream", json={"messages": []}), 422)
    assert fake.requests() == []
    assert types(history(client, agent.id)) == ["system_message"]


def test_streaming_flags_on_a_blocking_request_are_422(client, fake, agent):
    for flags in ({"stream_tokens": True}, {"background": True}, {"include_pings": False}):
        with pytest.raises(letta_client.UnprocessableEntityError) as ei:
            client.agents.messages.create(agent_id=agent.id, messages=say("blocking"), **flags)
        assert_error_body(ei.value, 422)
    assert fake.requests() == []
