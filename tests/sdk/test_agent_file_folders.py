"""Folders and files in Agent Files: an export carries the agent's folders as `sources`, the
files it holds with their text, and its views of them (`files_agents`); an import makes new
folders of them (a taken name suffixed, as Letta does), keeps which files are open and what
the agent sees of them, and embeds the files' text so the agent can search it again.
"""

from __future__ import annotations

import json
import re

from _helpers import make_agent
from test_agent_files import assert_valid_agent_file, fixture, import_file, load_doc
from test_file_tools import FILE_TOOLS, agent_files, call, folder_with, system_prompt, tool_names
from test_folders import passages, wait_for_file


def files_of(client, folder_id: str) -> dict[str, object]:
    """The folder's files by name, with their text, once each one's processing ended."""
    out = {}
    for f in client.folders.files.list(folder_id):
        wait_for_file(client, folder_id, f.id, timeout=60)
        out[f.file_name] = client.folders.files.retrieve(f.id, folder_id=folder_id, include_content=True)
    return out


def views(client, agent_id: str) -> list[tuple]:
    """What the agent holds of each file, its folder's name left out."""
    return [
        (f.file_name.split("/", 1)[1], f.is_open, f.visible_content, f.start_line, f.end_line)
        for f in agent_files(client, agent_id, order="asc")
    ]


def agent_with_files(client, fake, uid: str):
    """An agent with a folder of two files: test.md open on lines 3-4, test.txt closed."""
    folder = folder_with(client, uid, ["test.txt", "test.md"])
    agent = make_agent(client, f"af-files-{uid}")
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    label = f"docs-{uid}/test.md"
    opened = call(client, fake, agent.id, "open_files",
                  {"file_requests": [{"file_name": label, "offset": 2, "length": 2}]})
    assert opened.status == "success", opened.text
    txt = next(f for f in agent_files(client, agent.id) if f.file_name.endswith("test.txt"))
    client.agents.files.close(txt.file_id, agent_id=agent.id)
    return folder, agent


def test_an_agent_with_a_folder_round_trips_with_its_files_and_views(client, fake, http, uid):
    folder, agent = agent_with_files(client, fake, uid)
    held = views(client, agent.id)
    assert [(name, is_open, start, end) for name, is_open, _, start, end in held] == [
        ("test.txt", False, None, None),
        ("test.md", True, 3, 4),
    ]

    doc = json.loads(client.agents.export_file(agent.id))
    assert_valid_agent_file(doc)
    [source] = doc["sources"]
    assert (source["name"], source["id"]) == (f"docs-{uid}", "source-0")
    assert source["embedding_config"]["embedding_model"]
    contents = {f["original_file_name"]: f["content"] for f in doc["files"]}
    assert set(contents) == {"test.txt", "test.md"} and contents["test.txt"] == "test"
    assert {f["source_id"] for f in doc["files"]} == {"source-0"}
    [exported] = doc["agents"]
    assert exported["source_ids"] == ["source-0"]
    rows = {r["file_name"]: r for r in exported["files_agents"]}
    assert set(rows) == {f"docs-{uid}/test.txt", f"docs-{uid}/test.md"}
    md = rows[f"docs-{uid}/test.md"]
    assert (md["is_open"], md["start_line"], md["end_line"]) == (True, 3, 4)
    assert not rows[f"docs-{uid}/test.txt"]["is_open"]
    assert {r["file_id"] for r in rows.values()} == {f["id"] for f in doc["files"]}

    [copy_id] = import_file(client, json.dumps(doc).encode(), append_copy_suffix=False)
    # The folder's name is taken (the original is still here): Letta's suffix.
    [copy_folder] = client.agents.folders.list(copy_id)
    assert copy_folder.id != folder.id
    assert re.fullmatch(rf"docs-{uid}_[0-9a-f]{{8}}", copy_folder.name), copy_folder.name
    assert views(client, copy_id) == held
    assert {f.folder_name for f in agent_files(client, copy_id)} == {copy_folder.name}
    assert FILE_TOOLS <= tool_names(client, copy_id)

    files = files_of(client, copy_folder.id)
    assert set(files) == {f"{copy_folder.name}/test.txt", f"{copy_folder.name}/test.md"}
    assert all(f.processing_status == "completed" for f in files.values()), files
    texts = {f.original_file_name: f.content for f in files.values()}
    assert texts == contents

    # The agent sees its folder and its open window at the next turn, and can search again.
    fake.text("I see them")
    client.agents.messages.create(agent_id=copy_id, input="what files do you have?")
    prompt = system_prompt(fake)
    assert f'<directory name="{copy_folder.name}">' in prompt
    assert f'<file status="open" name="{copy_folder.name}/test.md">' in prompt
    assert md["visible_content"] in prompt
    assert any("pica" in p["text"] for p in passages(http, copy_folder.id))
    found = call(client, fake, copy_id, "semantic_search_files", {"query": "pica"})
    assert found.status == "success" and found.text.startswith("Found "), found.text
    assert f"=== {copy_folder.name}/test.md (passage #1) ===" in found.text


def test_the_fixture_with_files_and_sources_imports_them(client, fake):
    doc = load_doc(fixture("test_agent_with_files_and_sources.af"))
    [agent_id] = import_file(client, fixture("test_agent_with_files_and_sources.af"))
    [folder] = client.agents.folders.list(agent_id)
    assert folder.name == "test_disk_export_source" or folder.name.startswith("test_disk_export_source_")
    files = files_of(client, folder.id)
    want = {f["original_file_name"]: f["content"] for f in doc["files"]}
    assert {f.original_file_name: f.content for f in files.values()} == want
    assert all(f.processing_status == "completed" for f in files.values()), files
    rows = {r["file_name"].split("/", 1)[1]: r for r in doc["agents"][0]["files_agents"]}
    got = {f.file_name.split("/", 1)[1]: f for f in agent_files(client, agent_id)}
    assert set(got) == set(rows)
    for name, row in rows.items():
        assert (got[name].is_open, got[name].visible_content) == (row["is_open"], row["visible_content"])
    assert FILE_TOOLS <= tool_names(client, agent_id)

    found = call(client, fake, agent_id, "grep_files", {"pattern": "pica"})
    assert found.status == "success" and f"=== {folder.name}/test.md:" in found.text, found.text


def test_a_file_without_text_fails_and_the_rest_imports(client, uid):
    doc = load_doc(fixture("test_agent_with_files_and_sources.af"))
    doc["sources"][0]["name"] = f"no-text-{uid}"
    doc["files"][0]["content"] = None
    [agent_id] = import_file(client, json.dumps(doc).encode())
    [folder] = client.agents.folders.list(agent_id)
    assert folder.name == f"no-text-{uid}"
    files = {f.original_file_name: f for f in files_of(client, folder.id).values()}
    empty = files[doc["files"][0]["original_file_name"]]
    assert empty.processing_status == "error" and "no text" in empty.error_message
    assert files[doc["files"][1]["original_file_name"]].processing_status == "completed"


def test_the_embedding_override_applies_to_the_folders(client, uid):
    doc = load_doc(fixture("test_agent_with_files_and_sources.af"))
    doc["sources"][0]["name"] = f"override-{uid}"
    assert doc["sources"][0]["embedding_config"]["embedding_model"] != "text-embedding-ada-002"
    [agent_id] = import_file(client, json.dumps(doc).encode(), embedding="openai/text-embedding-ada-002")
    [folder] = client.agents.folders.list(agent_id)
    assert folder.embedding_config.handle == "openai/text-embedding-ada-002"
    assert folder.embedding_config.embedding_model == "text-embedding-ada-002"
