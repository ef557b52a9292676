"""An agent reading the documents of its folders: attaching a folder gives it the file tools and
puts its files in the context window; the model opens, greps and semantically searches them;
`/v1/agents/{id}/files` lists, opens and closes them; detaching and deleting take them away.

The fake LLM plays the model: it calls each file tool and the tests read what the tool returned
and what the next model request's system prompt shows.
"""

from __future__ import annotations


import letta_client
import pytest

from _helpers import llm_messages, llm_text, make_agent, tool_returns
from test_folders import make_folder, passages, upload, wait_for_file

# A word or phrase of each fixture document, and the line it is on once cut into lines.
DOCUMENTS = {
    "test.txt": "test",
    "test.md": "pica",
    "test.json": "glossary",
    "test.csv": "Smart Fan Iron Cooker",
    "memgpt_paper.pdf": "virtual context management",
}
FILE_TOOLS = {"open_files", "grep_files", "semantic_search_files"}


def folder_with(client, uid: str, names: list[str]):
    folder = make_folder(client, f"docs-{uid}")
    for name in names:
        f = wait_for_file(client, folder.id, upload(client, folder.id, name).id, timeout=120)
        assert f.processing_status == "completed", (name, f.error_message)
    return folder


def tool_names(client, agent_id: str) -> set[str]:
    return {t.name for t in client.agents.tools.list(agent_id)}


def system_prompt(fake) -> str:
    return llm_text(llm_messages(fake.requests()[-1], "system")[0])


def agent_files(client, agent_id: str, **kwargs) -> list:
    return list(client.agents.files.list(agent_id, **kwargs))


class Returned:
    """A tool's return: `status` and `text` as the API shows them (the text is the message
    of the packed return the model read)."""

    def __init__(self, message):
        self.status = message.status
        self.text = message.tool_return


def call(client, fake, agent_id: str, tool: str, arguments: dict) -> Returned:
    """The model calls `tool` once, then answers; returns what the tool returned."""
    fake.tool_call(tool, arguments)
    fake.text("done")
    resp = client.agents.messages.create(agent_id=agent_id, input=f"use {tool}")
    rets = tool_returns(resp)
    assert len(rets) == 1, resp.messages
    return Returned(rets[0])


def test_attaching_a_folder_gives_the_file_tools_and_opens_its_files(client, fake, uid):
    folder = folder_with(client, uid, ["test.txt", "test.json"])
    agent = make_agent(client, f"reader-{uid}")
    assert not FILE_TOOLS & tool_names(client, agent.id)

    client.agents.folders.attach(folder.id, agent_id=agent.id)
    assert FILE_TOOLS <= tool_names(client, agent.id)
    files = agent_files(client, agent.id, order="asc")
    assert [f.file_name for f in files] == [f"docs-{uid}/test.txt", f"docs-{uid}/test.json"]
    assert all(f.is_open and f.folder_name == f"docs-{uid}" for f in files), files
    assert files[0].visible_content == "[Viewing file start (out of 1 lines)]\n1: test"

    state = client.agents.retrieve(agent.id, include=["agent.blocks"])
    labels = {b.label: b for b in state.memory.file_blocks}
    assert set(labels) == {f"docs-{uid}/test.txt", f"docs-{uid}/test.json"}
    assert labels[f"docs-{uid}/test.txt"].read_only and labels[f"docs-{uid}/test.txt"].is_open

    fake.text("I see them")
    client.agents.messages.create(agent_id=agent.id, input="what files do you have?")
    prompt = system_prompt(fake)
    assert f'<directory name="docs-{uid}">' in prompt
    assert f'<file status="open" name="docs-{uid}/test.txt">' in prompt
    assert "1: test" in prompt
    assert "- current_files_open=2" in prompt

    client.agents.folders.detach(folder.id, agent_id=agent.id)
    assert not FILE_TOOLS & tool_names(client, agent.id)
    assert agent_files(client, agent.id) == []
    fake.text("gone")
    client.agents.messages.create(agent_id=agent.id, input="and now?")
    assert "<directories>" not in system_prompt(fake)


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_the_model_greps_opens_and_searches_each_document(client, http, fake, uid, name):
    folder = folder_with(client, uid, [name])
    agent = make_agent(client, f"reader-{uid}")
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    label = f"docs-{uid}/{name}"
    phrase = DOCUMENTS[name]

    grep = call(client, fake, agent.id, "grep_files", {"pattern": phrase})
    assert grep.status == "success", grep.text
    assert grep.text.startswith("Found "), grep.text
    assert f"=== {label}:" in grep.text
    assert phrase.lower() in grep.text.lower()

    line = int(grep.text.split(f"=== {label}:")[1].split(" ===")[0])
    opened = call(client, fake, agent.id, "open_files",
                  {"file_requests": [{"file_name": label, "offset": line - 1, "length": 2}]})
    assert opened.status == "success", opened.text
    assert opened.text.startswith(f"* Opened {label} (lines {line}-{line + 1})"), opened.text
    [held] = agent_files(client, agent.id)
    assert (held.is_open, held.start_line, held.end_line) == (True, line, line + 1)
    assert phrase.lower() in held.visible_content.lower()
    # the next request shows the opened window in the system prompt
    fake.text("read it")
    client.agents.messages.create(agent_id=agent.id, input="what does it say?")
    assert f"{line}: " in system_prompt(fake)
    assert "[Viewing " in system_prompt(fake)

    found = call(client, fake, agent.id, "semantic_search_files", {"query": phrase})
    assert found.status == "success", found.text
    assert found.text.startswith("Found "), found.text
    assert f"=== {label} (passage #1) ===" in found.text
    assert phrase.lower() in found.text.lower()

    # detached, the agent has neither the tools nor the file; deleted, search finds nothing
    client.agents.folders.detach(folder.id, agent_id=agent.id)
    assert not FILE_TOOLS & tool_names(client, agent.id)
    assert agent_files(client, agent.id) == []
    client.folders.files.delete(held.file_id, folder_id=folder.id)
    assert passages(http, folder.id) == []


def test_bad_file_requests_are_errors_the_model_sees(client, fake, uid):
    folder = folder_with(client, uid, ["test.txt"])
    agent = make_agent(client, f"reader-{uid}")
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    label = f"docs-{uid}/test.txt"

    missing = call(client, fake, agent.id, "open_files", {"file_requests": [{"file_name": "nope.txt"}]})
    assert missing.status == "error"
    assert "nope.txt not attached" in missing.text and label in missing.text

    past = call(client, fake, agent.id, "open_files",
                {"file_requests": [{"file_name": label, "offset": 5, "length": 1}]})
    assert past.status == "error"
    assert "has only 1 lines" in past.text, past.text

    bad = call(client, fake, agent.id, "grep_files", {"pattern": "(unclosed"})
    assert bad.status == "error" and "Invalid regex pattern" in bad.text

    none = call(client, fake, agent.id, "grep_files", {"pattern": "zebra"})
    assert none.status == "success"
    assert none.text == "No matches found for pattern: 'zebra'"


def test_open_close_and_close_all_over_the_api(client, fake, uid):
    folder = folder_with(client, uid, ["test.txt", "test.json", "test.md"])
    agent = make_agent(client, f"reader-{uid}", max_files_open=2)
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    files = agent_files(client, agent.id, order="asc")
    assert len(files) == 3
    assert sum(f.is_open for f in files) == 2, "only max_files_open files stay open"

    closed = client.agents.files.close_all(agent.id)
    assert sorted(closed) == sorted(f.file_name for f in files if f.is_open)
    assert agent_files(client, agent.id, is_open=True) == []

    assert client.agents.files.open(files[0].file_id, agent_id=agent.id) == []
    assert client.agents.files.open(files[1].file_id, agent_id=agent.id) == []
    evicted = client.agents.files.open(files[2].file_id, agent_id=agent.id)
    assert evicted == [files[0].file_name], "the least recently used file closes"
    open_now = [f.file_name for f in agent_files(client, agent.id, is_open=True, order="asc")]
    assert open_now == [files[1].file_name, files[2].file_name]

    client.agents.files.close(files[2].file_id, agent_id=agent.id)
    assert [f.file_name for f in agent_files(client, agent.id, is_open=True)] == [files[1].file_name]

    # one page at a time, the cursor being the last attachment's id
    first = client.agents.files.list(agent.id, limit=2, order="asc")
    assert [f.file_name for f in first.files] == [f.file_name for f in files[:2]]
    assert first.has_more is True
    rest = client.agents.files.list(agent.id, limit=2, order="asc", after=first.files[-1].id)
    assert [f.file_name for f in rest.files] == [files[2].file_name] and rest.has_more is False

    with pytest.raises(letta_client.NotFoundError):
        client.agents.files.open("file-00000000-0000-4000-8000-000000000000", agent_id=agent.id)


def test_deleted_files_and_folders_leave_the_agent(client, fake, uid):
    folder = folder_with(client, uid, ["test.txt", "test.json"])
    agent = make_agent(client, f"reader-{uid}")
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    txt, json_file = agent_files(client, agent.id, order="asc")

    client.folders.files.delete(json_file.file_id, folder_id=folder.id)
    assert [f.file_name for f in agent_files(client, agent.id)] == [txt.file_name]
    gone = call(client, fake, agent.id, "semantic_search_files", {"query": "glossary"})
    assert "test.json" not in gone.text and "example glossary" not in gone.text, gone.text

    client.folders.delete(folder.id)
    assert agent_files(client, agent.id) == []
    assert not FILE_TOOLS & tool_names(client, agent.id)
    fake.text("nothing left")
    client.agents.messages.create(agent_id=agent.id, input="any files?")
    assert "<directories>" not in system_prompt(fake)


def test_a_file_uploaded_to_an_attached_folder_opens_in_the_agent(client, fake, uid):
    folder = make_folder(client, f"docs-{uid}")
    agent = make_agent(client, f"reader-{uid}")
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    assert FILE_TOOLS <= tool_names(client, agent.id), "an empty folder gives the tools too"
    f = wait_for_file(client, folder.id, upload(client, folder.id, "test.json").id)
    assert f.processing_status == "completed"
    [held] = agent_files(client, agent.id)
    assert held.is_open and "glossary" in held.visible_content

    grep = call(client, fake, agent.id, "grep_files", {"pattern": "SGML", "include": "*.json"})
    assert grep.status == "success" and "=== docs-" in grep.text, grep.text
    skipped = call(client, fake, agent.id, "grep_files", {"pattern": "SGML", "include": "*.md"})
    assert skipped.text.startswith("No files match the filename pattern '*.md'"), skipped.text


def test_agents_created_with_folders_hold_their_files(client, fake, uid):
    folder = folder_with(client, uid, ["test.txt"])
    agent = make_agent(client, f"reader-{uid}", folder_ids=[folder.id])
    assert FILE_TOOLS <= {t.name for t in agent.tools}
    assert [f.file_name for f in agent_files(client, agent.id)] == [f"docs-{uid}/test.txt"]
    assert agent.max_files_open and agent.per_file_view_window_char_limit


def test_the_older_file_tools_still_work(client, fake, uid):
    folder = folder_with(client, uid, ["test.json"])
    agent = make_agent(client, f"reader-{uid}", tools=["open_file", "close_file", "grep", "search_files"])
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    label = f"docs-{uid}/test.json"
    client.agents.files.close_all(agent.id)

    opened = call(client, fake, agent.id, "open_file", {"file_name": label, "view_range": [1, 3]})
    assert opened.status == "success", opened.text
    assert opened.text == f"Successfully opened file {label}, lines 1 to 3 are now visible in memory block <{label}>"
    [held] = agent_files(client, agent.id)
    assert held.is_open and held.visible_content.startswith("[Viewing lines 2 to 3 (out of ")

    closed = call(client, fake, agent.id, "close_file", {"file_name": label})
    assert closed.text == f"Successfully closed file {label}, use function calls to re-open file"
    assert agent_files(client, agent.id, is_open=True) == []

    grep = call(client, fake, agent.id, "grep", {"pattern": "GlossTerm"})
    assert f"=== {label}:" in grep.text and "Standard Generalized Markup Language" in grep.text
    found = call(client, fake, agent.id, "search_files", {"query": "glossary"})
    assert found.text.startswith("Found ") and label in found.text, found.text
