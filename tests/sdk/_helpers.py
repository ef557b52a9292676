"""Small helpers shared by the SDK conformance tests."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import letta_client

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
MODEL = "openai/gpt-4o-mini"
HUMAN = {"label": "human", "value": "Name: Ada"}
PERSONA = {"label": "persona", "value": "I am terse."}


def assert_id(value: Any, prefix: str) -> None:
    assert isinstance(value, str), f"id is not a string: {value!r}"
    assert re.fullmatch(f"{prefix}-{UUID4}", value), f"{value!r} is not '{prefix}-<uuid4>'"


def random_id(prefix: str) -> str:
    """A well-formed id that names nothing."""
    return f"{prefix}-{uuid.uuid4()}"


def make_agent(client: letta_client.Letta, name: str, **kwargs):
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("memory_blocks", [dict(HUMAN), dict(PERSONA)])
    return client.agents.create(name=name, **kwargs)


def labels(blocks) -> list[str]:
    return [b.label for b in blocks]


def by_label(blocks) -> dict:
    return {b.label: b for b in blocks}


def count_agents(http: httpx.Client, **params) -> int:
    """GET /v1/agents/count (not wrapped by letta-client 1.12.1); lists become repeated keys."""
    query: list[tuple[str, str]] = []
    for key, val in params.items():
        if isinstance(val, (list, tuple)):
            query.extend((key, str(v)) for v in val)
        elif isinstance(val, bool):
            query.append((key, "true" if val else "false"))
        else:
            query.append((key, str(val)))
    r = http.get("/v1/agents/count", params=query)
    assert r.status_code == 200, f"count: {r.status_code} {r.text}"
    body = r.json()
    assert isinstance(body, int) and not isinstance(body, bool), f"count body is not an int: {body!r}"
    return body


def assert_error_body(exc: letta_client.APIStatusError, status: int) -> None:
    """The SDK raised for `status`, and the server's body is a JSON object with `detail`."""
    assert exc.status_code == status, f"expected {status}, got {exc.status_code}: {exc.body!r}"
    assert isinstance(exc.body, dict), f"error body is not a JSON object: {exc.body!r}"
    assert "detail" in exc.body, f"error body has no 'detail': {exc.body!r}"
    ctype = exc.response.headers.get("content-type", "")
    assert ctype.startswith("application/json"), f"error content-type {ctype!r}"


def assert_http_error(resp: httpx.Response, status: int) -> None:
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body, dict) and "detail" in body, f"error body without 'detail': {body!r}"


# -- agent turns (the fake LLM) ---------------------------------------------------------------------


def of_type(messages, message_type: str) -> list:
    """The messages of one `message_type`, in order."""
    return [m for m in messages if m.message_type == message_type]


def types(messages) -> list[str]:
    return [m.message_type for m in messages]


def history(client: letta_client.Letta, agent_id: str) -> list:
    """Every stored message of the agent as the SDK lists it, oldest first."""
    return list(client.agents.messages.list(agent_id, order="asc", limit=1000))


def text_of(message) -> str:
    """The text of a user/assistant/system message (string content or text parts)."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def tool_call_of(message):
    """The (first) tool call of a tool_call_message."""
    if message.tool_calls:
        return message.tool_calls[0]
    return message.tool_call


def llm_messages(request: dict, role: str) -> list[dict]:
    """The messages of one role in a recorded chat-completion request."""
    return [m for m in request["messages"] if m["role"] == role]


def llm_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def llm_tools(request: dict) -> dict[str, dict]:
    """The tools offered in a recorded request, by name -> function object."""
    return {t["function"]["name"]: t["function"] for t in request.get("tools") or []}


# -- custom tools ----------------------------------------------------------------------------------


def tool_source(name: str, params: str = "", body: str = 'return "ok"', doc_args: dict[str, str] | None = None,
                summary: str = "A test tool.", prelude: str = "") -> str:
    """Python source of one tool function `name(params)` with a Google-style docstring.

    `body` is the function body (dedented, one statement per line); `doc_args` describes the
    parameters (each parameter needs a line for the schema generator)."""
    lines = [prelude.strip("\n"), ""] if prelude else []
    lines.append(f"def {name}({params}):")
    lines.append(f'    """{summary}')
    if doc_args:
        lines += ["", "    Args:"] + [f"        {arg}: {text}" for arg, text in doc_args.items()]
    lines.append('    """')
    lines += [f"    {line}" for line in body.strip("\n").splitlines()]
    return "\n".join(lines) + "\n"


def create_tool(client: letta_client.Letta, name: str, params: str = "", body: str = 'return "ok"', **kwargs):
    """Registers a tool from `tool_source(...)`; every parameter is documented automatically."""
    doc_args = kwargs.pop("doc_args", None)
    if doc_args is None and params:
        doc_args = {p.split(":")[0].strip(): f"The {p.split(':')[0].strip()}." for p in params.split(",")}
    return client.tools.create(source_code=tool_source(name, params, body, doc_args, **kwargs))


def tool_returns(resp) -> list:
    """The tool_return_message items of a response."""
    return of_type(resp.messages, "tool_return_message")


def wait_for_run(client: letta_client.Letta, run_id: str, timeout: float = 20.0):
    """The run once it has ended (completed, failed or cancelled); fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.runs.retrieve(run_id)
        if run.status in ("completed", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {client.runs.retrieve(run_id)}")


def wait_model_called(fake, timeout: float = 10.0) -> None:
    """Waits until the fake LLM has taken every scripted reply: the model call is under way.

    A test that cancels a run "during the model call" must know the call started; otherwise the
    cancel lands before it and the scripted reply stays queued for the next test step.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not fake.queued():
            return
        time.sleep(0.02)
    raise AssertionError(f"the model was not called: still queued {fake.queued()}")
