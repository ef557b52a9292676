"""Agent Files (.af) through letta-client: import of every real file, export, round trips, options,
bad files.

Expectations are computed from each file's own JSON, for both layouts a user may hold: the current
one (`agents`/`blocks`/`tools`, file-local ids) and the legacy single-agent one (`core_memory`,
top-level `messages` with the ORDERED `in_context_message_indices`, inline `tools`). Some files
hold the document as a JSON string (double-encoded); both readers here decode that too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import letta_client
import pytest

from _helpers import MODEL, UUID4, count_agents, create_tool, history, make_agent, of_type, text_of, wait_for_run
from test_folders import wait_for_file

REPO = Path(__file__).resolve().parents[2]
# AgentFileSchema and the schemas it references, copied unchanged from Letta 0.16.7's OpenAPI spec
SCHEMA = Path(__file__).resolve().parent / "data" / "agent_file_schema.json"
SERVER_PY = str(REPO / "tests" / "mcp" / "server.py")


# -- the fixture files -----------------------------------------------------------------------------


def fixture_dirs() -> list[Path]:
    """Where the real .af files are: in the repo once committed, else the shared copies."""
    in_repo = REPO / "tests" / "fixtures" / "agent-files"
    if in_repo.is_dir():
        return [in_repo, in_repo / "agent-file-repo"]
    return [Path("/work/shared/fixtures/agent-files"), Path("/work/wt/agent-file-repo")]


def fixture_files() -> list[Path]:
    files = sorted(p for d in fixture_dirs() if d.is_dir() for p in d.glob("*.af"))
    assert files, f"no .af fixtures under {fixture_dirs()}"
    return files


FILES = fixture_files()
FILE_IDS = [p.name for p in FILES]


def load_doc(path: Path) -> dict:
    data = json.loads(path.read_bytes())
    if isinstance(data, str):  # double-encoded files hold the document as a JSON string
        data = json.loads(data)
    return data


def fixture(name: str) -> Path:
    return next(p for p in FILES if p.name == name)


# -- what a file says its agents are -----------------------------------------------------------------


@dataclass
class Expected:
    name: str
    system: str
    blocks: dict[str, str]  # label -> value
    tools: set[str]
    rules: list[tuple[str, str]]  # (type, tool_name), sorted
    message_count: int
    in_context_roles: list[str]


def is_current(doc: dict) -> bool:
    return isinstance(doc.get("agents"), list)


def rules_of(agent: dict) -> list[tuple[str, str]]:
    return sorted((r["type"], r["tool_name"]) for r in agent.get("tool_rules") or [])


def expected_agents(doc: dict) -> list[Expected]:
    if not is_current(doc):
        return [expected_legacy(doc)]
    blocks = {b["id"]: b for b in doc["blocks"]}
    tools = {t["id"]: t for t in doc["tools"]}
    out = []
    for agent in doc["agents"]:
        messages = {m["id"]: m for m in agent.get("messages") or []}
        out.append(
            Expected(
                name=agent["name"],
                system=agent["system"],
                blocks={blocks[i]["label"]: blocks[i]["value"] for i in agent.get("block_ids") or []},
                tools={tools[i]["name"] for i in agent.get("tool_ids") or []},
                rules=rules_of(agent),
                message_count=len(messages),
                in_context_roles=[messages[i]["role"] for i in agent.get("in_context_message_ids") or []],
            )
        )
    return out


def expected_legacy(doc: dict) -> Expected:
    messages = doc.get("messages") or []
    return Expected(
        name=doc["name"],
        system=doc["system"],
        blocks={b["label"]: b["value"] for b in doc.get("core_memory") or []},
        tools={t["name"] for t in doc.get("tools") or []},
        rules=rules_of(doc),
        message_count=len(messages),
        # an ordered list: the in-context window in this order, not sorted by index
        in_context_roles=[messages[i]["role"] for i in doc.get("in_context_message_indices") or []],
    )


# -- what the server made of it --------------------------------------------------------------------

# The message types a stored message of each role renders as.
ROLE_TYPES = {
    "system": {"system_message"},
    "user": {"user_message"},
    "assistant": {"assistant_message", "reasoning_message", "hidden_reasoning_message", "tool_call_message"},
    "tool": {"tool_return_message"},
    "approval": {"approval_request_message", "approval_response_message", "tool_return_message", "tool_call_message"},
}


def role_of(client: letta_client.Letta, message_id: str) -> str | None:
    """The role whose message types one stored message renders as (None if it renders as none)."""
    rendered = {m.message_type for m in client.messages.retrieve(message_id)}
    roles = [role for role, kinds in ROLE_TYPES.items() if rendered and rendered <= kinds]
    return roles[0] if roles else f"?{sorted(rendered)}"


def import_file(client: letta_client.Letta, path_or_bytes: Path | bytes, filename: str = "agent.af", **opts) -> list[str]:
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    resp = client.agents.import_file(file=(filename, data, "application/json"), **opts)
    ids = resp.agent_ids
    assert ids and all(re.fullmatch(f"agent-{UUID4}", i) for i in ids), ids
    return ids


def assert_matches(client: letta_client.Letta, agent_id: str, want: Expected, name: str) -> None:
    agent = client.agents.retrieve(agent_id)
    assert agent.name == name
    assert agent.system == want.system
    blocks = {b.label: b.value for b in client.agents.blocks.list(agent_id)}
    assert blocks == want.blocks
    assert {t.name for t in client.agents.tools.list(agent_id)} == want.tools
    assert sorted((r.type, r.tool_name) for r in agent.tool_rules or []) == want.rules

    in_context = agent.message_ids or []
    if want.in_context_roles:
        assert [role_of(client, i) for i in in_context] == want.in_context_roles
    else:  # a file without messages: at most the system message the server compiles
        assert [role_of(client, i) for i in in_context] in ([], ["system"])
    # Every stored message, `send_message` returns included (lists leave them out by default).
    listed = client.agents.messages.list(agent_id, order="asc", limit=1000, use_assistant_message=False)
    stored = {m.id for m in listed}
    if want.message_count:
        assert len(stored) == want.message_count, f"{len(stored)} stored messages, the file has {want.message_count}"
    assert set(in_context) <= stored | set(in_context[:1])


# Providers the fake serves (openai, anthropic, google_ai); other files' agents get MODEL.
SERVED = {"openai", "anthropic", "google_ai"}


def assert_answers(client, fake, agent_id: str, text: str) -> None:
    """A turn goes through the fake LLM and ends without an error (and the sleep-time
    companions it started, if the file gave it any, are done: they call the fake too)."""
    before = len(fake.requests())
    try:
        resp = client.agents.messages.create(agent_id=agent_id, input=text)
    except letta_client.ConflictError as e:
        # The file's agent was waiting for a human's approval (as exported): the import keeps
        # the request pending, so the user answers it first, as on the server it came from.
        pending = e.body["detail"]["pending_request_id"]
        denial = {"type": "approval", "approval_request_id": pending, "approve": False}
        client.agents.messages.create(agent_id=agent_id, messages=[denial])
        before = len(fake.requests())
        resp = client.agents.messages.create(agent_id=agent_id, input=text)
    assert resp.stop_reason.stop_reason != "error", resp
    requests = fake.requests()[before:]
    assert requests, "the model was never called"
    seen = json.dumps(requests[0])
    assert text in seen, "the user's message did not reach the model"
    assert resp.messages, "the turn produced no messages"
    for run_id in resp.usage.run_ids or []:
        wait_for_run(client, run_id)


def providers_of(doc: dict) -> set[str]:
    agents = doc["agents"] if is_current(doc) else [doc]
    return {(a.get("llm_config") or {}).get("model_endpoint_type") for a in agents}


# -- every real file --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=FILE_IDS)
def test_every_fixture_imports_as_its_file_says(client, path):
    doc = load_doc(path)
    wanted = expected_agents(doc)
    ids = import_file(client, path, filename=path.name)
    assert len(ids) == len(wanted)
    for agent_id, want in zip(ids, wanted):
        # append_copy_suffix defaults to true (as in Letta)
        assert_matches(client, agent_id, want, name=want.name + "_copy")


@pytest.mark.parametrize("path", FILES, ids=FILE_IDS)
def test_every_fixture_agent_answers_through_the_fake(client, fake, path, uid):
    doc = load_doc(path)
    opts = {} if providers_of(doc) <= SERVED else {"model": MODEL}
    ids = import_file(client, path, filename=path.name, **opts)
    agent = client.agents.retrieve(ids[0])
    fake.latency(0)
    try:
        assert_answers(client, fake, ids[0], f"hello after import {uid}")
    except AssertionError as e:
        raise AssertionError(f"{e}\nllm_config: {agent.llm_config}") from e


@pytest.mark.parametrize("path", FILES, ids=FILE_IDS)
def test_every_fixture_round_trips(client, path):
    """import -> export -> import -> export: the two exports are equal modulo ids and timestamps."""
    ids = import_file(client, path, append_copy_suffix=False)
    files_settled(client, ids[0])
    first = json.loads(client.agents.export_file(ids[0]))
    again = import_file(client, json.dumps(first).encode(), append_copy_suffix=False)
    files_settled(client, again[0])
    second = json.loads(client.agents.export_file(again[0]))
    assert normalize(unsuffixed(second)) == normalize(unsuffixed(first))


def files_settled(client, agent_id: str) -> None:
    """Waits until the files of the agent's folders are processed (their status is exported)."""
    for folder in client.agents.folders.list(agent_id):
        for f in client.folders.files.list(folder.id):
            wait_for_file(client, folder.id, f.id, timeout=60)


# The suffix an import gives a folder whose name is taken (Letta's: `_` and eight hex digits),
# at the end of a folder's name or before the `/` of a file's.
FOLDER_SUFFIX = re.compile(r"(_[0-9a-f]{8})+(?=/|$)")


def unsuffixed(doc: dict) -> dict:
    """The document with its folders' names as they were before any import suffixed them."""
    doc = copy.deepcopy(doc)
    named = [*doc.get("sources", []), *doc.get("files", [])]
    named += [r for a in doc["agents"] for r in a.get("files_agents") or []]
    for item in named:
        for key in ("name", "file_name"):
            if isinstance(item.get(key), str):
                item[key] = FOLDER_SUFFIX.sub("", item[key])
    return doc


# -- round trip of an agent made here ------------------------------------------------------------------

TIMESTAMP_KEYS = re.compile(r"(^|_)(created_at|updated_at|last_updated|date|timestamp)$|_at$")
SERVER_ID = re.compile(rf"\b([a-z_]+)-{UUID4}\b")


def normalize(value):
    """Drops timestamps; replaces server ids (`<prefix>-<uuid4>`) by `<prefix>-*`."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if not TIMESTAMP_KEYS.search(k)}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        return SERVER_ID.sub(lambda m: f"{m.group(1)}-*", value)
    return value


@pytest.fixture
def rich_agent(client, fake, uid):
    """An agent with blocks, a custom tool, tool rules, tags and a history with a tool call."""
    tool = create_tool(client, f"aft_add_{uid}", params="a: int, b: int", body="return str(a + b)")
    agent = make_agent(
        client,
        f"af-src-{uid}",
        tool_ids=[tool.id],
        tags=["af", uid],
        tool_rules=[{"type": "continue_loop", "tool_name": tool.name}],
        tool_exec_environment_variables={"AF_KEY": "v1"},
    )
    fake.push({"tool_calls": [{"name": tool.name, "arguments": {"a": 2, "b": 3}}]}, {"text": "five"})
    client.agents.messages.create(agent_id=agent.id, input=f"add 2 and 3 {uid}")
    client.agents.messages.create(agent_id=agent.id, input=f"thanks {uid}")
    return client.agents.retrieve(agent.id, include=["agent.blocks", "agent.tools"])


def spec_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def assert_valid_agent_file(doc: dict) -> None:
    errors = sorted(spec_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:10])


def test_the_schema_check_can_fail():
    doc = load_doc(fixture("test_basic_agent_with_blocks_tools_messages_v2.af"))
    assert_valid_agent_file(doc)
    del doc["agents"][0]["messages"][0]["role"]
    with pytest.raises(AssertionError):
        assert_valid_agent_file(doc)


def test_export_validates_against_the_spec_and_holds_the_agent(client, rich_agent, uid):
    text = client.agents.export_file(rich_agent.id)
    assert isinstance(text, str)
    doc = json.loads(text)
    assert_valid_agent_file(doc)
    (agent,) = doc["agents"]
    assert agent["name"] == rich_agent.name and agent["system"] == rich_agent.system
    assert set(agent["tags"]) == {"af", uid}
    blocks = {b["id"]: b for b in doc["blocks"]}
    assert {blocks[i]["label"]: blocks[i]["value"] for i in agent["block_ids"]} == {
        b.label: b.value for b in rich_agent.blocks
    }
    tools = {t["id"]: t for t in doc["tools"]}
    names = {tools[i]["name"] for i in agent["tool_ids"]}
    assert {t.name for t in rich_agent.tools} == names
    custom = next(t for t in doc["tools"] if t["name"] == f"aft_add_{uid}")
    assert "return str(a + b)" in custom["source_code"] and custom["json_schema"]["name"] == custom["name"]
    # file-local ids, references inside the file
    assert re.fullmatch(r"agent-\d+", agent["id"])
    assert all(re.fullmatch(r"message-\d+", m["id"]) for m in agent["messages"])
    assert set(agent["in_context_message_ids"]) <= {m["id"] for m in agent["messages"]}
    assert len(agent["in_context_message_ids"]) == len(rich_agent.message_ids)
    roles = [m["role"] for m in agent["messages"]]
    assert roles[0] == "system" and roles.count("tool") == 1 and roles.count("user") == 2
    assert uid in json.dumps([m["content"] for m in agent["messages"] if m["role"] == "user"])


def test_export_import_export_is_equal_modulo_ids_and_timestamps(client, rich_agent):
    first = json.loads(client.agents.export_file(rich_agent.id))
    (copy_id,) = import_file(client, json.dumps(first).encode(), append_copy_suffix=False)
    assert copy_id != rich_agent.id
    second = json.loads(client.agents.export_file(copy_id))
    assert normalize(second) == normalize(first)


def test_export_post_form_equals_get(client, http, rich_agent):
    got = json.loads(client.agents.export_file(rich_agent.id))
    r = http.post(f"/v1/agents/{rich_agent.id}/export", json={})
    assert r.status_code == 200, r.text
    assert normalize(r.json()) == normalize(got)
    r = http.post(f"/v1/agents/{rich_agent.id}/export", json={"scrub_messages": True})
    assert r.status_code == 200, r.text
    assert r.json()["agents"][0]["messages"] == []


def test_export_scrub_messages(client, rich_agent):
    doc = json.loads(client.agents.export_file(rich_agent.id, scrub_messages=True))
    assert_valid_agent_file(doc)
    (agent,) = doc["agents"]
    assert agent["messages"] == [] and agent["in_context_message_ids"] == []
    assert doc["blocks"] and doc["tools"], "scrubbing keeps the configuration"


def test_export_legacy_format_is_refused(client, rich_agent):
    with pytest.raises(letta_client.BadRequestError) as e:
        client.agents.export_file(rich_agent.id, use_legacy_format=True)
    assert e.value.status_code == 400


def test_export_unknown_agent_is_404(client):
    missing = f"agent-00000000-0000-4000-8000-{'0' * 12}"
    with pytest.raises(letta_client.NotFoundError) as e:
        client.agents.export_file(missing)
    assert e.value.status_code == 404
    assert missing in str(e.value.body), f"not the agent's 404: {e.value.body!r}"


def test_export_of_an_mcp_tool_carries_the_server_without_secrets(client, uid):
    secret = f"sekrit-{uid}"
    server = client.mcp_servers.create(
        server_name=f"calc-{uid}",
        config={"mcp_server_type": "stdio", "command": sys.executable, "args": [SERVER_PY], "env": {"GREETING": secret}},
    )
    add = next(t for t in client.mcp_servers.tools.list(server.id) if t.name == "add")
    agent = make_agent(client, f"af-mcp-{uid}")
    client.agents.tools.attach(add.id, agent_id=agent.id)

    text = client.agents.export_file(agent.id)
    assert secret not in text, "the MCP server's env reached the file"
    doc = json.loads(text)
    assert_valid_agent_file(doc)
    (mcp,) = doc["mcp_servers"]
    assert mcp["server_name"] == f"calc-{uid}" and mcp["server_type"] == "stdio"
    assert "env" not in (mcp.get("stdio_config") or {})
    assert (mcp.get("stdio_config") or {}).get("command") == sys.executable
    assert "add" in {t["name"] for t in doc["tools"]}


def test_import_brings_the_mcp_server_of_a_tool_or_uses_the_one_of_that_name(client, uid):
    server = client.mcp_servers.create(
        server_name=f"calc2-{uid}",
        config={"mcp_server_type": "stdio", "command": sys.executable, "args": [SERVER_PY]},
    )
    add = next(t for t in client.mcp_servers.tools.list(server.id) if t.name == "add")
    agent = make_agent(client, f"af-mcp2-{uid}")
    client.agents.tools.attach(add.id, agent_id=agent.id)
    doc = json.loads(client.agents.export_file(agent.id))

    # The server of that name is here: the imported tool uses it.
    (a,) = import_file(client, json.dumps(doc).encode())
    tool = next(t for t in client.agents.tools.list(a) if t.name == "add")
    assert tool.metadata_["mcp"]["server_id"] == server.id

    # Renamed in the file, it is a server this one lacks: the import creates it (without
    # secrets), and the tool names the new server.
    doc["mcp_servers"][0]["server_name"] = f"calc3-{uid}"
    (b,) = import_file(client, json.dumps(doc).encode())
    created = next(s for s in client.mcp_servers.list() if s.server_name == f"calc3-{uid}")
    assert created.id != server.id and created.command == sys.executable
    # Tools are one per name: with `override_existing_tools` (the default) the file's copy,
    # naming the created server, replaces the stored one.
    tool = next(t for t in client.agents.tools.list(b) if t.name == "add")
    assert tool.metadata_["mcp"]["server_id"] == created.id


# -- independence ---------------------------------------------------------------------------------


def test_importing_twice_gives_two_independent_agents(client, fake, uid):
    path = fixture("test_basic_agent_with_blocks_tools_messages_v2.af")
    (a,) = import_file(client, path)
    (b,) = import_file(client, path)
    assert a != b
    blocks_tools = ["agent.blocks", "agent.tools"]
    a_state = client.agents.retrieve(a, include=blocks_tools)
    b_state = client.agents.retrieve(b, include=blocks_tools)
    assert not set(a_state.message_ids) & set(b_state.message_ids)
    assert not {x.id for x in a_state.blocks} & {x.id for x in b_state.blocks}
    b_history = [m.id for m in history(client, b)]

    client.agents.messages.create(agent_id=a, input=f"only for a {uid}")
    client.agents.blocks.update("human", agent_id=a, value=f"changed {uid}")

    assert [m.id for m in history(client, b)] == b_history
    assert client.agents.retrieve(b).message_ids == b_state.message_ids
    assert {x.label: x.value for x in client.agents.blocks.list(b)} == {x.label: x.value for x in b_state.blocks}


# -- options ----------------------------------------------------------------------------------------

BASIC = "test_basic_agent_with_blocks_tools_messages_v2.af"


def basic_name() -> str:
    return load_doc(fixture(BASIC))["agents"][0]["name"]


@pytest.mark.parametrize("suffix", [True, False])
def test_append_copy_suffix(client, suffix):
    (a,) = import_file(client, fixture(BASIC), append_copy_suffix=suffix)
    assert client.agents.retrieve(a).name == basic_name() + ("_copy" if suffix else "")


@pytest.mark.parametrize("field", ["name", "override_name"])
def test_name_override_wins_over_the_suffix(client, uid, field):
    (a,) = import_file(client, fixture(BASIC), **{field: f"renamed-{uid}"})
    assert client.agents.retrieve(a).name == f"renamed-{uid}"


def test_strip_messages(client):
    path = fixture(BASIC)
    file_texts = {
        m["content"][0]["text"]
        for m in load_doc(path)["agents"][0]["messages"]
        if m["role"] != "system" and m.get("content")
    }
    (a,) = import_file(client, path, strip_messages=True)
    stored = history(client, a)
    assert all(m.message_type == "system_message" for m in stored), [m.message_type for m in stored]
    assert not {text_of(m) for m in of_type(stored, "user_message")} & file_texts
    assert len(client.agents.retrieve(a).message_ids) <= 1


def file_with_tool(uid: str, source_marker: str) -> bytes:
    """The basic file with one extra custom tool `aft_same_<uid>` whose source holds the marker."""
    doc = load_doc(fixture(BASIC))
    name = f"aft_same_{uid}"
    doc["tools"].append(
        {
            "id": "tool-99",
            "tool_type": "custom",
            "name": name,
            "description": "A tool from the file.",
            "source_type": "python",
            "tags": [],
            "source_code": f'def {name}():\n    """A tool from the file."""\n    return "{source_marker}"\n',
            "json_schema": {"name": name, "description": "A tool from the file.", "parameters": {"type": "object", "properties": {}, "required": []}},
            "return_char_limit": 50000,
        }
    )
    doc["agents"][0]["tool_ids"].append("tool-99")
    return json.dumps(doc).encode()


@pytest.mark.parametrize("override", [True, False])
def test_override_existing_tools(client, uid, override):
    server_tool = create_tool(client, f"aft_same_{uid}", body='return "from the server"')
    (a,) = import_file(client, file_with_tool(uid, "from the file"), override_existing_tools=override)
    attached = {t.name: t for t in client.agents.tools.list(a)}
    assert attached[server_tool.name].id == server_tool.id, "tools are matched by name"
    source = client.tools.retrieve(server_tool.id).source_code
    assert ("from the file" in source) == override and ("from the server" in source) != override


def test_a_file_tool_the_server_lacks_is_created(client, uid):
    before = {t.name for t in client.tools.list(name=f"aft_same_{uid}")}
    (a,) = import_file(client, file_with_tool(uid, "fresh"))
    assert not before
    (tool,) = [t for t in client.agents.tools.list(a) if t.name == f"aft_same_{uid}"]
    assert "fresh" in client.tools.retrieve(tool.id).source_code


def test_project_id(client, uid):
    (a,) = import_file(client, fixture(BASIC), project_id=f"project-{uid}")
    assert client.agents.retrieve(a).project_id == f"project-{uid}"


def env_of(agent) -> dict[str, str]:
    return {e.key: e.value for e in agent.secrets or agent.tool_exec_environment_variables or []}


@pytest.mark.parametrize("field", ["secrets", "env_vars_json"])
def test_secrets_fill_the_files_variables(client, field):
    # the legacy file names TAVILY_API_KEY and EXA_API_KEY; a key not given becomes ""
    path = fixture("deep_research_agent.af")
    (a,) = import_file(client, path, **{field: json.dumps({"TAVILY_API_KEY": "tv-1", "OTHER": "x"})})
    assert env_of(client.agents.retrieve(a, include=["agent.secrets"])) == {"TAVILY_API_KEY": "tv-1", "EXA_API_KEY": ""}


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", '"a string"'])
def test_secrets_must_be_a_json_object(client, http, bad):
    counts = counts_of(http)
    with pytest.raises(letta_client.BadRequestError) as e:
        import_file(client, fixture(BASIC), secrets=bad)
    assert "secrets" in str(e.value.body)
    assert counts_of(http) == counts


def test_model_and_embedding_overrides(client):
    (a,) = import_file(client, fixture(BASIC), model="anthropic/claude-haiku-4-5", embedding="openai/text-embedding-3-small")
    agent = client.agents.retrieve(a)
    assert agent.llm_config.handle == "anthropic/claude-haiku-4-5" and agent.llm_config.model_endpoint_type == "anthropic"
    assert agent.embedding_config.handle == "openai/text-embedding-3-small"


def test_deprecated_model_override_and_header(client):
    (a,) = import_file(
        client,
        fixture(BASIC),
        override_model_handle="anthropic/claude-haiku-4-5",
        x_override_embedding_model="openai/text-embedding-3-small",
    )
    agent = client.agents.retrieve(a)
    assert agent.llm_config.handle == "anthropic/claude-haiku-4-5"
    assert agent.embedding_config.handle == "openai/text-embedding-3-small"


# -- bad files: a clear 4xx, nothing written -----------------------------------------------------------


def counts_of(http) -> tuple[int, int, int]:
    def count(path: str) -> int:
        r = http.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    return count_agents(http), count("/v1/blocks/count"), count("/v1/tools/count")


def basic_doc(uid: str) -> dict:
    """The basic file with an extra tool, so that a leaked tool would change the tool count."""
    return json.loads(file_with_tool(uid, "leak"))


def truncated(uid: str) -> bytes:
    data = json.dumps(basic_doc(uid)).encode()
    return data[: len(data) // 2]


def wrong_type(uid: str) -> bytes:
    doc = basic_doc(uid)
    doc["agents"][0]["messages"][3]["role"] = 42
    return json.dumps(doc).encode()


def block_over_limit(uid: str) -> bytes:
    doc = basic_doc(uid)
    doc["blocks"][0]["limit"] = 10
    doc["blocks"][0]["value"] = "x" * 11
    return json.dumps(doc).encode()


def dangling_in_context(uid: str) -> bytes:
    doc = basic_doc(uid)
    doc["agents"][0]["in_context_message_ids"].append("message-999")
    return json.dumps(doc).encode()


def huge_field(uid: str) -> bytes:
    doc = basic_doc(uid)
    doc["agents"][0]["system"] = "y" * (64 * 1024 * 1024)
    return json.dumps(doc).encode()


BAD_FILES = {
    # name: (builder, what the error's detail must mention)
    "truncated-json": (truncated, r"json|corrupt|eof|line|column|truncat"),
    "zero-bytes": (lambda uid: b"", r"empty|json|corrupt"),
    "top-level-number": (lambda uid: b"42", r"object|number|corrupt"),
    "top-level-array": (lambda uid: json.dumps([basic_doc(uid)]).encode(), r"object|array|corrupt"),
    "wrong-type": (wrong_type, r"role"),
    "in-context-id-naming-no-message": (dangling_in_context, r"message-999"),
    "huge-field": (huge_field, r"large|long|size|limit|exceed"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_a_clear_4xx_and_writes_nothing(client, http, uid, case):
    build, mention = BAD_FILES[case]
    data = build(uid)
    counts = counts_of(http)
    client_ = client.with_options(timeout=120.0)
    with pytest.raises(letta_client.APIStatusError) as e:
        import_file(client_, data)
    assert 400 <= e.value.status_code < 500, f"{e.value.status_code}: {e.value.body!r}"
    assert isinstance(e.value.body, dict) and isinstance(e.value.body.get("detail"), str), e.value.body
    assert re.search(mention, e.value.body["detail"], re.I), e.value.body["detail"]
    assert counts_of(http) == counts, "a refused import left something behind"


def test_a_block_over_its_limit_keeps_its_value_with_a_limit_that_fits(client, uid):
    """Letta stopped enforcing block limits, so real files hold such blocks (ezra.af in the
    public collection): the import keeps the whole value rather than refuse the file."""
    data = block_over_limit(uid)
    label = json.loads(data)["blocks"][0]["label"]
    (a,) = import_file(client, data)
    block = client.agents.blocks.retrieve(label, agent_id=a)
    assert block.value == "x" * 11
    assert block.limit == 11


def test_a_tool_return_without_its_call_imports_and_the_agent_answers(client, fake, uid):
    """Letta imports such files; the next turn's history repair handles the dangling return."""
    doc = load_doc(fixture(BASIC))
    agent = doc["agents"][0]
    call_ids = [c["id"] for m in agent["messages"] for c in m.get("tool_calls") or []]
    for m in agent["messages"]:
        if m["role"] == "assistant":
            m["tool_calls"] = None
    assert any(m["role"] == "tool" and m["tool_call_id"] in call_ids for m in agent["messages"])
    (a,) = import_file(client, json.dumps(doc).encode(), model=MODEL)
    assert len(client.agents.retrieve(a).message_ids) == len(agent["in_context_message_ids"])
    assert_answers(client, fake, a, f"still there {uid}")


def test_the_fixture_directories_are_found():
    dirs = fixture_dirs()
    assert all(d.is_dir() for d in dirs), dirs
    assert any(not is_current(load_doc(p)) for p in FILES), "no legacy-layout file among the fixtures"
    assert os.path.getsize(FILES[0]) > 0


def test_an_imported_history_is_soon_found_by_vector_search(client, uid):
    """Recall vectors of a large import are computed back to back in the background, not one
    small batch per wake-up (which took minutes for a few thousand messages)."""
    doc = load_doc(fixture("test_basic_agent_with_blocks_tools_messages_v2.af"))
    agent = doc["agents"][0]
    agent["embedding_config"] = {
        "embedding_endpoint_type": "openai",
        "embedding_endpoint": "https://api.openai.com/v1",
        "embedding_model": "text-embedding-3-small",
        "embedding_dim": 1536,
    }
    template = next(m for m in agent["messages"] if m["role"] == "user")
    for n in range(1500):
        m = copy.deepcopy(template)
        m["id"] = f"message-bulk-{n}"
        m["content"] = [{"type": "text", "text": f"bulk note {n} {uid}"}]
        agent["messages"].append(m)
    last = f"bulk note 1499 {uid}"
    (a,) = import_file(client, json.dumps(doc).encode())
    deadline = time.monotonic() + 30
    while True:
        found = client.messages.search(query=last, agent_id=a, search_mode="vector", limit=1)
        if (found and found[0].content == last) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found and found[0].content == last, found


def test_a_sleeptime_companion_and_its_group_come_and_go_with_the_file(client, fake, uid):
    """A file's sleep-time group (a real one: Letta's Evie) is imported with its companion, runs,
    and is exported again with the primary."""
    (evie_file,) = [p for p in FILES if p.name.endswith("evie_evie.af")]
    ids = import_file(client, evie_file)
    primary, companion = ids
    agent = client.agents.retrieve(primary, include=["agent.managed_group"])
    group = agent.managed_group
    assert group is not None and group.manager_type == "sleeptime"
    assert group.agent_ids == [companion] and group.sleeptime_agent_frequency == 5
    assert agent.enable_sleeptime is True
    assert client.agents.retrieve(companion).agent_type == "sleeptime_agent"

    # The companion runs after the primary's first turn.
    fake.text("Hello!")
    res = client.agents.messages.create(agent_id=primary, input=f"hi evie {uid}")
    assert res.usage.run_ids and len(res.usage.run_ids) == 1
    assert client.runs.retrieve(res.usage.run_ids[0]).agent_id == companion
    wait_for_run(client, res.usage.run_ids[0])

    doc = json.loads(client.agents.export_file(primary, scrub_messages=True))
    assert_valid_agent_file(doc)
    assert [a["agent_type"] for a in doc["agents"]] == ["letta_v1_agent", "sleeptime_agent"]
    (g,) = doc["groups"]
    assert g["manager_config"] == {"manager_type": "sleeptime", "manager_agent_id": "agent-0", "sleeptime_agent_frequency": 5}
    assert g["agent_ids"] == ["agent-1"]
    again = import_file(client, json.dumps(doc).encode())
    assert client.agents.retrieve(again[0], include=["agent.managed_group"]).managed_group.agent_ids == [again[1]]
