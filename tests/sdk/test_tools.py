"""Custom Python tools through letta-client 1.12.1: `/v1/tools`, an agent's tools, and the sandbox
that runs them (`POST /v1/tools/run` and tool calls in agent turns).

Tool names are global, so every test names its tools with the `uid` suffix. Tests that script the
fake LLM run serially against the shared server; the sandbox tests that need to know the server's
environment or data directory start a private one.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid

import letta_client
import pytest
from letta_client.types import ToolReturnMessage

from _helpers import (
    assert_error_body,
    assert_http_error,
    assert_id,
    create_tool,
    history,
    llm_messages,
    llm_text,
    llm_tools,
    make_agent,
    of_type,
    random_id,
    tool_call_of,
    tool_returns,
    tool_source,
    types,
)

ADD_SOURCE = '''
from typing import List, Optional


def NAME(a: int, b: int = 2, label: str = "sum", scale: float = 1.0, verbose: bool = False,
         tags: Optional[List[str]] = None) -> str:
    """Add two numbers.

    The result is labelled and scaled.

    Args:
        a: The first number.
        b: The second number.
        label: What to call the result.
        scale: A factor applied to the sum.
        verbose: Whether to explain the result.
        tags: Extra tags to append.

    Returns:
        str: The labelled sum.
    """
    total = (a + b) * scale
    if total == int(total):
        total = int(total)
    text = f"{label}={total}"
    if tags:
        text += " " + ",".join(tags)
    return text
'''


def add_source(name: str) -> str:
    return ADD_SOURCE.replace("NAME", name)


def run_source(client: letta_client.Letta, source: str, args: dict | None = None, **extra) -> ToolReturnMessage:
    """`POST /v1/tools/run` (letta-client 1.12.1 has no method for it; the SDK's own `post`)."""
    body = {"source_code": source, "args": args or {}, **extra}
    return client.post("/v1/tools/run", body=body, cast_to=ToolReturnMessage)


def call_tool(client, fake, agent_id: str, name: str, args: dict, after: str = "done."):
    """One turn in which the model calls `name(**args)` and then answers `after`."""
    fake.push({"tool_calls": [{"name": name, "arguments": args}]}, {"text": after})
    return client.agents.messages.create(agent_id=agent_id, input=f"please run {name}")


def agent_tools(client, agent_id: str) -> list:
    """The first page of `GET /v1/agents/{id}/tools`, big enough for every agent here.

    Deliberately not the SDK's auto-pagination: pagination has its own test below."""
    return client.agents.tools.list(agent_id, limit=50).items


def agent_tool_ids(client, agent_id: str) -> list[str]:
    return [t.id for t in agent_tools(client, agent_id)]


def agent_tool_names(client, agent_id: str) -> list[str]:
    return [t.name for t in agent_tools(client, agent_id)]


def only_return(resp):
    rets = tool_returns(resp)
    assert len(rets) == 1, f"expected one tool return: {types(resp.messages)}"
    return rets[0]


def assert_healthy(client, fake, agent_id: str) -> None:
    """The server still answers, and the agent still takes a turn."""
    assert client.health().status == "ok"
    resp = client.agents.messages.create(agent_id=agent_id, input="still there?")
    assert [m.content for m in of_type(resp.messages, "assistant_message")] == ["echo: still there?"]
    assert resp.stop_reason.stop_reason == "end_turn"


# -- the registry --------------------------------------------------------------------------------


def test_create_tool_generates_the_schema_from_source(client, uid):
    name = f"add_numbers_{uid}"
    tool = client.tools.create(source_code=add_source(name), tags=[f"math-{uid}"])

    assert_id(tool.id, "tool")
    assert tool.name == name
    assert tool.tool_type == "custom"
    assert tool.source_type == "python"
    assert tool.source_code == add_source(name)
    assert tool.tags == [f"math-{uid}"]
    # the docstring's short and long descriptions; Args and Returns are not part of it
    assert tool.description == "Add two numbers.\n\nThe result is labelled and scaled."

    schema = tool.json_schema
    assert schema["name"] == name
    assert schema["description"] == tool.description
    params = schema["parameters"]
    assert params["type"] == "object"
    props = params["properties"]
    assert set(props) == {"a", "b", "label", "scale", "verbose", "tags"}, props
    assert props["a"] == {"type": "integer", "description": "The first number."}
    assert props["b"]["type"] == "integer"
    assert props["label"] == {"type": "string", "description": "What to call the result."}
    assert props["scale"]["type"] == "number"
    assert props["verbose"]["type"] == "boolean"
    assert props["tags"]["type"] == "array" and props["tags"]["items"] == {"type": "string"}, props["tags"]
    # only the parameter without a default is required
    assert params["required"] == ["a"]

    again = client.tools.retrieve(tool.id)
    assert again.id == tool.id and again.name == name
    assert again.json_schema == schema
    assert again.description == tool.description


def test_creating_a_taken_name_updates_that_tool(client, uid):
    # Letta 0.16.7's POST silently updates the tool of that name (same id); scripts that create
    # their tools on every start rely on it.
    name = f"dup_{uid}"
    first = create_tool(client, name, body='return "first"')
    second = create_tool(client, name, body='return "second"')
    assert second.id == first.id
    listed = list(client.tools.list(name=name))
    assert [t.id for t in listed] == [first.id]
    assert 'return "second"' in listed[0].source_code


def test_upsert_replaces_the_tool_and_keeps_its_id(client, uid):
    name = f"upsert_{uid}"
    created = client.tools.upsert(source_code=tool_source(name, summary="Version one."))
    assert_id(created.id, "tool")
    assert created.description == "Version one."

    replaced = client.tools.upsert(
        source_code=tool_source(name, "x: int", "return str(x)", {"x": "A number."}, summary="Version two.")
    )
    assert replaced.id == created.id
    assert replaced.description == "Version two."
    assert replaced.json_schema["parameters"]["properties"]["x"]["type"] == "integer"
    assert replaced.json_schema["parameters"]["required"] == ["x"]

    listed = list(client.tools.list(name=name))
    assert [t.id for t in listed] == [created.id], "upsert must not create a second tool of that name"
    assert client.tools.retrieve(created.id).description == "Version two."


def test_list_filters_and_count(client, http, uid):
    alpha = create_tool(client, f"calc_alpha_{uid}")
    beta = create_tool(client, f"calc_beta_{uid}")
    other = create_tool(client, f"other_{uid}")

    assert [t.id for t in client.tools.list(name=alpha.name)] == [alpha.id]
    assert list(client.tools.list(name=f"calc_{uid}")) == [], "name is an exact match"
    by_names = {t.id for t in client.tools.list(names=[alpha.name, other.name])}
    assert by_names == {alpha.id, other.id}
    # search: case-insensitive partial match on the name
    assert {t.id for t in client.tools.list(search=uid)} == {alpha.id, beta.id, other.id}
    assert {t.id for t in client.tools.list(search=f"Calc_Alpha_{uid}")} == {alpha.id}
    assert {t.id for t in client.tools.list(search=f"c_beta_{uid[:6]}")} == {beta.id}
    # tool types: user tools are "custom"; the built-ins are not
    assert [t.id for t in client.tools.list(name=alpha.name, tool_types=["custom"])] == [alpha.id]
    assert list(client.tools.list(name=alpha.name, tool_types=["letta_core"])) == []
    assert [t.id for t in client.tools.list(tool_ids=[beta.id])] == [beta.id]

    # the SDK's auto-pagination walks the filtered list page by page (bounded: a server that
    # ignores the cursor would repeat its first page for ever)
    walked = [t.id for t in itertools.islice(client.tools.list(search=uid, limit=1), 10)]
    assert sorted(walked) == sorted([alpha.id, beta.id, other.id]), walked

    r = http.get("/v1/tools/count", params=[("search", uid)])
    assert r.status_code == 200, r.text
    assert r.json() == 3
    r = http.get("/v1/tools/count", params=[("name", beta.name)])
    assert r.status_code == 200 and r.json() == 1, r.text


def test_modify_description_and_source(client, uid):
    tool = create_tool(client, f"mod_{uid}", summary="Before.")
    updated = client.tools.update(tool.id, description=f"After {uid}.")
    assert updated.id == tool.id
    assert updated.description == f"After {uid}."
    assert client.tools.retrieve(tool.id).description == f"After {uid}."

    # new source regenerates the schema
    source = tool_source(tool.name, "city: str", "return city.upper()", {"city": "The city."}, summary="Shout a city.")
    updated = client.tools.update(tool.id, source_code=source)
    assert updated.source_code == source
    props = updated.json_schema["parameters"]["properties"]
    assert props == {"city": {"type": "string", "description": "The city."}}
    assert updated.json_schema["parameters"]["required"] == ["city"]
    again = client.tools.retrieve(tool.id)
    assert again.source_code == source and again.json_schema == updated.json_schema


def test_delete_tool(client, uid):
    tool = create_tool(client, f"gone_{uid}")
    client.tools.delete(tool.id)
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.tools.retrieve(tool.id)
    assert_error_body(ei.value, 404)
    assert list(client.tools.list(name=tool.name)) == []
    with pytest.raises(letta_client.NotFoundError):
        client.tools.delete(tool.id)
    with pytest.raises(letta_client.NotFoundError):
        client.tools.retrieve(random_id("tool"))
    # the name is free again
    assert create_tool(client, tool.name).id != tool.id


# Letta 0.16.7 answers these with 400 ("Failed to derive json schema: ..."); mneme's contract is
# 422, the status of every other unprocessable input.
@pytest.mark.parametrize(
    "case, source, needles",
    [
        # each needle is a tuple of alternatives, one of which must be in the message
        ("syntax error", "def broken(x: int:\n    return x\n", [("syntax", "line 1")]),
        (
            "no type annotation",
            'def untyped(x):\n    """Doc.\n\n    Args:\n        x: The x.\n    """\n    return x\n',
            [("'x'",), ("annotation",)],
        ),
        ("no docstring", "def bare(x: int) -> int:\n    return x\n", [("docstring",)]),
        ("no function", "X = 1\n", []),
    ],
)
def test_bad_source_is_422_with_a_message(client, case, source, needles):
    before = len(list(client.tools.list(limit=1000)))
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.tools.create(source_code=source)
    assert_error_body(ei.value, 422)
    detail = ei.value.body["detail"]
    text = detail if isinstance(detail, str) else json.dumps(detail)
    assert text.strip(), f"{case}: empty error message"
    for alternatives in needles:
        assert any(n in text.lower() for n in alternatives), f"{case}: none of {alternatives} in {text!r}"
    assert len(list(client.tools.list(limit=1000))) == before, f"{case}: a tool was created"


# -- agents' tools ---------------------------------------------------------------------------------


def test_attached_tool_is_called_by_the_agent(client, fake, uid):
    tool = client.tools.create(source_code=add_source(f"add_{uid}"))
    agent = make_agent(client, f"tooluser-{uid}")
    assert tool.name not in agent_tool_names(client, agent.id)

    state = client.agents.tools.attach(tool.id, agent_id=agent.id)
    assert state is not None and state.id == agent.id
    assert tool.id in agent_tool_ids(client, agent.id)

    args = {"a": 40, "label": f"total-{uid}"}  # b takes its default
    resp = call_tool(client, fake, agent.id, tool.name, args, after="The total is 42.")

    assert types(resp.messages) == ["tool_call_message", "tool_return_message", "assistant_message"]
    call_msg, ret, answer = resp.messages
    call = tool_call_of(call_msg)
    assert call.name == tool.name
    assert json.loads(call.arguments) == args
    assert ret.status == "success"
    assert ret.tool_call_id == call.tool_call_id
    assert f"total-{uid}=42" in ret.tool_return, ret.tool_return
    assert answer.content == "The total is 42."
    assert resp.stop_reason.stop_reason == "end_turn"

    # stored
    stored = of_type(history(client, agent.id), "tool_return_message")
    assert [m.id for m in stored] == [ret.id]
    assert stored[0].status == "success" and f"total-{uid}=42" in stored[0].tool_return

    # the model was offered the tool with its schema, and got its return in the next request
    requests = fake.requests()
    assert len(requests) == 2
    offered = llm_tools(requests[0])
    assert tool.name in offered, sorted(offered)
    assert offered[tool.name]["parameters"]["properties"]["a"]["type"] == "integer"
    assert offered[tool.name]["description"].startswith("Add two numbers.")
    tool_msgs = llm_messages(requests[1], "tool")
    assert [m["tool_call_id"] for m in tool_msgs] == [call.tool_call_id]
    assert f"total-{uid}=42" in llm_text(tool_msgs[0])

    # detached: gone from the agent's tools and from what the model is offered
    client.agents.tools.detach(tool.id, agent_id=agent.id)
    assert tool.id not in agent_tool_ids(client, agent.id)
    client.agents.messages.create(agent_id=agent.id, input="what tools now?")
    assert tool.name not in llm_tools(fake.requests()[-1])
    # the tool itself still exists
    assert client.tools.retrieve(tool.id).name == tool.name


def test_tools_at_agent_creation_by_id_and_by_name(client, uid):
    by_id = create_tool(client, f"byid_{uid}")
    by_name = create_tool(client, f"byname_{uid}")
    a = make_agent(client, f"ids-{uid}", tool_ids=[by_id.id])
    b = make_agent(client, f"names-{uid}", tools=[by_name.name])
    assert by_id.id in agent_tool_ids(client, a.id)
    assert by_name.id not in agent_tool_ids(client, a.id)
    assert by_name.id in agent_tool_ids(client, b.id)


def test_agent_tools_paginate(client, uid):
    custom = [create_tool(client, f"page{i}_{uid}") for i in range(3)]
    agent = make_agent(client, f"paged-{uid}", tool_ids=[t.id for t in custom])
    everything = agent_tool_ids(client, agent.id)
    assert len(everything) == len(set(everything)) == 6, everything  # 3 default tools + 3 custom

    first = client.agents.tools.list(agent.id, limit=2).items
    assert len(first) == 2, f"limit=2 answered {len(first)} tools"

    # cursor by cursor: every tool once, then an empty page
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = client.agents.tools.list(agent.id, limit=2, **({"after": after} if after else {})).items
        if not page:
            break
        seen += [t.id for t in page]
        after = page[-1].id
    assert sorted(seen) == sorted(everything), seen

    # the SDK's own iteration (bounded, so that a server ignoring the cursor fails instead of hanging)
    walked = [t.id for t in itertools.islice(client.agents.tools.list(agent.id, limit=2), 20)]
    assert sorted(walked) == sorted(everything), f"{len(walked)} tools walked"


def test_attach_unknown_tool_or_agent_is_404(client, uid):
    agent = make_agent(client, f"att404-{uid}")
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.agents.tools.attach(random_id("tool"), agent_id=agent.id)
    assert_error_body(ei.value, 404)
    tool = create_tool(client, f"att404_{uid}")
    with pytest.raises(letta_client.NotFoundError):
        client.agents.tools.attach(tool.id, agent_id=random_id("agent"))
    with pytest.raises(letta_client.NotFoundError):
        client.agents.tools.list(random_id("agent"))


# -- containment -----------------------------------------------------------------------------------


def test_raising_tool_is_an_error_return_and_the_turn_goes_on(client, fake, uid):
    tool = create_tool(client, f"raiser_{uid}", "x: int", f'raise ValueError(f"bad input {{x}} {uid}")')
    agent = make_agent(client, f"raiser-{uid}", tool_ids=[tool.id])

    resp = call_tool(client, fake, agent.id, tool.name, {"x": 7}, after="It failed.")

    assert types(resp.messages) == ["tool_call_message", "tool_return_message", "assistant_message"]
    ret = resp.messages[1]
    assert ret.status == "error"
    assert "ValueError" in ret.tool_return and f"bad input 7 {uid}" in ret.tool_return, ret.tool_return
    assert resp.messages[2].content == "It failed."
    assert resp.stop_reason.stop_reason == "end_turn"
    # the model was told
    assert f"bad input 7 {uid}" in llm_text(llm_messages(fake.requests()[1], "tool")[0])
    assert [m.status for m in of_type(history(client, agent.id), "tool_return_message")] == ["error"]
    assert_healthy(client, fake, agent.id)


def test_tool_printing_10_mb_succeeds_and_the_server_stays_healthy(client, fake, uid):
    tool = create_tool(client, f"printer_{uid}", body='print("x" * 10_000_000)\nreturn "done"')
    agent = make_agent(client, f"printer-{uid}", tool_ids=[tool.id])

    resp = call_tool(client, fake, agent.id, tool.name, {})

    ret = only_return(resp)
    assert ret.status == "success", ret.tool_return[:500]
    assert "done" in ret.tool_return
    assert len(ret.tool_return) < 100_000, "the tool's prints must not become its return value"
    assert_healthy(client, fake, agent.id)


def test_tool_that_loops_forever_is_killed_and_the_turn_goes_on(server_factory, fake, tmp_path, uid):
    # A private server with a short tool timeout (MNEME_TOOL_TIMEOUT_SECS), so the test is quick.
    srv = server_factory(tmp_path / "data", env={"MNEME_TOOL_TIMEOUT_SECS": "2"})
    with srv.client() as client:
        tool = create_tool(client, f"spin_{uid}", body="while True:\n    pass")
        agent = make_agent(client, f"spin-{uid}", tool_ids=[tool.id])
        resp = call_tool(client, fake, agent.id, tool.name, {}, after="It hung.")

        ret = resp.messages[1]
        assert ret.message_type == "tool_return_message"
        assert ret.status == "error"
        assert "timed out after 2" in ret.tool_return, ret.tool_return
        assert resp.messages[2].content == "It hung."
        assert_healthy(client, fake, agent.id)


def test_tool_sees_the_agent_variables_and_not_the_server_environment(server_factory, fake, tmp_path, uid):
    canary = f"canary-{uid}"
    srv = server_factory(tmp_path / "data", env={"MNEME_CANARY": canary})
    body = (
        "import os\n"
        "keys = sorted(os.environ)\n"
        "return (f\"token={os.environ.get('TOOL_TOKEN')!r} secret={os.environ.get('TOOL_SECRET')!r} \"\n"
        "        f\"canary={os.environ.get('MNEME_CANARY')!r} openai={os.environ.get('OPENAI_API_KEY')!r} \"\n"
        "        f\"keys={keys}\")"
    )
    with srv.client() as client:
        tool = create_tool(client, f"env_{uid}", body=body)
        agent = make_agent(
            client,
            f"env-{uid}",
            tool_ids=[tool.id],
            tool_exec_environment_variables={"TOOL_TOKEN": "abc"},
            secrets={"TOOL_SECRET": f"s3cret-{uid}"},
        )
        ret = only_return(call_tool(client, fake, agent.id, tool.name, {}))

        assert ret.status == "success", ret.tool_return
        out = ret.tool_return
        assert "token='abc'" in out, out
        assert f"secret='s3cret-{uid}'" in out, out
        # nothing of the server's environment: not the canary, not the provider key, not the
        # variables the test process passed down
        assert "canary=None" in out and canary not in out, out
        assert "openai=None" in out and "sk-test" not in out, out
        for leaked in ("MNEME_BIN", "MNEME_FAKE_LLM_BIN", "OPENAI_BASE_URL", "RUST_LOG"):
            assert f"'{leaked}'" not in out, f"{leaked} leaked into the tool's environment: {out}"
        assert_healthy(client, fake, agent.id)


def test_agent_variables_are_listed_with_include_secrets(client, uid):
    agent = make_agent(
        client,
        f"secrets-{uid}",
        tool_exec_environment_variables={"TOOL_TOKEN": "abc"},
        secrets={"TOOL_SECRET": f"s3cret-{uid}"},
    )
    state = client.agents.retrieve(agent.id, include=["agent.secrets"])
    keys = {v.key for v in state.secrets or []}
    assert keys == {"TOOL_TOKEN", "TOOL_SECRET"}, state.secrets
    assert all(v.agent_id == agent.id for v in state.secrets)


def test_tool_cannot_read_the_server_database(server_factory, fake, tmp_path, uid):
    data_dir = tmp_path / "data"
    srv = server_factory(data_dir)
    # The key that seals provider secrets is in the data directory on either backend; the
    # database file too on SQLite.
    targets = [data_dir / "secret.key"]
    if os.environ.get("MNEME_TEST_BACKEND", "sqlite") != "postgres":
        targets.append(data_dir / "mneme.db")
    with srv.client() as client:
        tool = create_tool(
            client,
            f"reader_{uid}",
            "path: str",
            'with open(path, "rb") as f:\n    return repr(f.read(64))',
        )
        agent = make_agent(client, f"reader-{uid}", tool_ids=[tool.id])
        for target in targets:
            assert target.is_file(), f"{target.name} is not in {data_dir}: {sorted(os.listdir(data_dir))}"

            ret = only_return(call_tool(client, fake, agent.id, tool.name, {"path": str(target)}))

            assert ret.status == "error", ret.tool_return
            assert "SQLite format" not in ret.tool_return
            assert any(e in ret.tool_return for e in ("FileNotFoundError", "PermissionError")), ret.tool_return
        assert_healthy(client, fake, agent.id)


def test_tool_cannot_write_outside_its_directory(client, fake, uid):
    tool = create_tool(
        client,
        f"writer_{uid}",
        "path: str",
        'with open(path, "w") as f:\n    f.write("escaped")\nwith open(path) as f:\n    return "wrote " + f.read()',
    )
    agent = make_agent(client, f"writer-{uid}", tool_ids=[tool.id])

    # its own working directory is writable
    ret = only_return(call_tool(client, fake, agent.id, tool.name, {"path": f"scratch-{uid}.txt"}))
    assert ret.status == "success", ret.tool_return
    assert "wrote escaped" in ret.tool_return

    target = f"/tmp/mneme-escape-{uuid.uuid4().hex}"
    try:
        ret = only_return(call_tool(client, fake, agent.id, tool.name, {"path": target}))
        assert ret.status == "error", ret.tool_return
        assert any(e in ret.tool_return for e in ("OSError", "PermissionError", "FileNotFoundError")), ret.tool_return
        assert not os.path.exists(target), f"the tool wrote {target} on the host"
    finally:
        if os.path.exists(target):
            os.remove(target)
    assert_healthy(client, fake, agent.id)


def test_tool_has_no_network(server, client, fake, uid):
    host, port = server.addr.rsplit(":", 1)
    tool = create_tool(
        client,
        f"netcat_{uid}",
        "host: str, port: int",
        "import socket\n"
        "s = socket.create_connection((host, port), timeout=5)\n"
        's.sendall(b"GET /v1/health/ HTTP/1.0\\r\\n\\r\\n")\n'
        "return s.recv(200).decode()",
    )
    agent = make_agent(client, f"netcat-{uid}", tool_ids=[tool.id])

    ret = only_return(call_tool(client, fake, agent.id, tool.name, {"host": host, "port": int(port)}))

    assert ret.status == "error", f"the tool reached the server: {ret.tool_return}"
    assert "HTTP/1" not in ret.tool_return
    assert any(e in ret.tool_return for e in ("ConnectionRefusedError", "OSError", "timeout", "PermissionError")), ret.tool_return
    assert_healthy(client, fake, agent.id)


# -- POST /v1/tools/run --------------------------------------------------------------------------


def test_run_tool_from_source(client, uid):
    source = tool_source(
        f"double_{uid}", "x: int", f'print("hello from {uid}")\nreturn str(x * 2)', {"x": "The number."}
    )
    ret = run_source(client, source, {"x": 21})
    assert ret.message_type == "tool_return_message"
    assert ret.status == "success"
    assert ret.tool_return == "42"
    assert f"hello from {uid}" in "".join(ret.stdout or []), ret.stdout
    # nothing was registered
    assert list(client.tools.list(name=f"double_{uid}")) == []


def test_run_tool_from_source_that_raises(client, uid):
    source = tool_source(f"boom_{uid}", "x: int", f'raise ValueError("no good {uid}")', {"x": "The number."})
    ret = run_source(client, source, {"x": 1})
    assert ret.status == "error"
    assert "ValueError" in ret.tool_return and f"no good {uid}" in ret.tool_return, ret.tool_return
    assert "ValueError" in "".join(ret.stderr or []), ret.stderr
    assert client.health().status == "ok"


def test_run_tool_from_source_env_vars(client, uid):
    source = tool_source(
        f"envrun_{uid}", body="import os\nreturn f\"{os.environ.get('RUN_VAR')}|{os.environ.get('OPENAI_API_KEY')}\""
    )
    ret = run_source(client, source, {}, env_vars={"RUN_VAR": f"v-{uid}"})
    assert ret.status == "success", ret.tool_return
    assert ret.tool_return == f"v-{uid}|None"


def test_run_tool_from_bad_source_is_422(client, http):
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        run_source(client, "def nope(:\n")
    assert_error_body(ei.value, 422)
    r = http.post("/v1/tools/run", json={"args": {}})
    assert_http_error(r, 422)
