"""A seed-era application's document flow through letta-client 0.1.324: create a source with the
server's default embedding, upload files, poll their jobs with `jobs.retrieve` until they end,
list the files, attach the source to an agent and talk about it, detach, delete.

The servers of this suite have the local embedding model (see conftest.py), which is what a
source made without an embedding gets.
"""

from __future__ import annotations

import os
from pathlib import Path

import letta_client
import pytest

from _seed import LOCAL_EMBEDDING, MODEL, assert_api_error, assert_id, checked, text_of, user, wait_for_job

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "documents"
DOCUMENTS = ["test.txt", "test.md", "test.json", "test.csv", "memgpt_paper.pdf"]
MIME = {
    "txt": "text/plain",
    "md": "text/markdown",
    "json": "application/json",
    "csv": "text/csv",
    "pdf": "application/pdf",
}


def upload(client: letta_client.Letta, source_id: str, name: str, data: bytes | None = None):
    data = (FIXTURES / name).read_bytes() if data is None else data
    mime = MIME.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    resp = client.sources.files.with_raw_response.upload(source_id, file=(name, data, mime))
    return checked(resp, letta_client.FileMetadata)


def job_of(client: letta_client.Letta, source_id: str, file_id: str) -> letta_client.Job:
    """The processing job of an uploaded file, found the seed-era way: the source's jobs."""
    jobs = checked(client.jobs.with_raw_response.list(source_id=source_id), list[letta_client.Job])
    mine = [j for j in jobs if (j.metadata or {}).get("file_id") == file_id]
    assert len(mine) == 1, jobs
    return mine[0]


def test_documents_are_uploaded_processed_and_attached(client, fake, uid):
    source = checked(client.sources.with_raw_response.create(name=f"seed-docs-{uid}"), letta_client.Source)
    assert_id(source.id, "source")
    assert source.embedding_config.handle == LOCAL_EMBEDDING
    files = {}
    for name in DOCUMENTS:
        sent = upload(client, source.id, name)
        assert_id(sent.id, "file")
        assert (sent.source_id, sent.original_file_name) == (source.id, name)
        job = job_of(client, source.id, sent.id)
        assert_id(job.id, "job")
        done = wait_for_job(client, job.id, timeout=300)
        assert done.status == "completed", (name, done)
        assert done.completed_at is not None
        files[name] = sent.id
    listed = checked(client.sources.files.with_raw_response.list(source.id), list[letta_client.FileMetadata])
    assert {f.original_file_name: f.id for f in listed} == files
    assert all(f.processing_status == "completed" and f.total_chunks == f.chunks_embedded for f in listed)
    md = client.sources.get_file_metadata(source.id, files["test.md"], include_content=True)
    assert md.content == (FIXTURES / "test.md").read_text()

    agent = client.agents.create(name=f"seed-reader-{uid}", model=MODEL)
    attached = checked(client.agents.sources.with_raw_response.attach(agent.id, source.id), letta_client.AgentState)
    assert [s.id for s in attached.sources] == [source.id]
    sources = checked(client.agents.sources.with_raw_response.list(agent.id), list[letta_client.Source])
    assert [s.id for s in sources] == [source.id]
    assert client.sources.get_agents_for_source(source.id) == [agent.id]
    # The agent got the file tools with the source, and the model reads the files with them.
    assert {"open_files", "grep_files", "semantic_search_files"} <= {t.name for t in attached.tools}
    fake.tool_call("grep_files", {"pattern": "glossary"})
    fake.text("I see your files.")
    resp = client.agents.messages.create(agent.id, messages=user("what do you have?"))
    returns = [m for m in resp.messages if m.message_type == "tool_return_message"]
    assert len(returns) == 1 and returns[0].status == "success", resp.messages
    assert f"=== seed-docs-{uid}/test.json:" in returns[0].tool_return, returns[0].tool_return
    assert text_of(resp.messages[-1]) == "I see your files."

    client.agents.sources.detach(agent.id, source.id)
    assert client.agents.sources.list(agent.id) == []
    client.sources.files.delete(source.id, files["test.txt"])
    assert "test.txt" not in [f.original_file_name for f in client.sources.files.list(source.id)]
    client.sources.delete(source.id)
    with pytest.raises(letta_client.core.ApiError) as exc:
        client.sources.retrieve(source.id)
    assert_api_error(exc.value, 404)


def test_a_corrupt_file_fails_its_job_and_the_source_takes_the_next(client, uid):
    source = client.sources.create(name=f"seed-bad-{uid}")
    broken = upload(client, source.id, "broken.pdf", data=os.urandom(4096))
    failed = wait_for_job(client, job_of(client, source.id, broken.id).id)
    assert failed.status == "failed", failed
    meta = client.sources.get_file_metadata(source.id, broken.id)
    assert meta.processing_status == "error" and meta.error_message, meta
    ok = upload(client, source.id, "test.txt")
    assert wait_for_job(client, job_of(client, source.id, ok.id).id).status == "completed"
    by_name = {f.original_file_name: f.processing_status for f in client.sources.files.list(source.id)}
    assert by_name == {"broken.pdf": "error", "test.txt": "completed"}


def test_the_same_flow_through_the_seed_sdks_folders(client, uid):
    folder = checked(client.folders.with_raw_response.create(name=f"seed-folder-{uid}"), letta_client.Folder)
    assert_id(folder.id, "source")
    assert folder.embedding_config.handle == LOCAL_EMBEDDING
    resp = client.folders.files.with_raw_response.upload(
        folder.id, file=("test.md", (FIXTURES / "test.md").read_bytes(), "text/markdown")
    )
    sent = checked(resp, letta_client.FileMetadata)
    assert wait_for_job(client, job_of(client, folder.id, sent.id).id).status == "completed"
    files = checked(client.folders.files.with_raw_response.list(folder.id), list[letta_client.FileMetadata])
    assert [(f.id, f.processing_status) for f in files] == [(sent.id, "completed")]
    agent = client.agents.create(name=f"seed-folder-reader-{uid}", model=MODEL)
    client.agents.folders.attach(agent.id, folder.id)
    assert [f.id for f in client.agents.folders.list(agent.id)] == [folder.id]
    # Folders and sources are one resource: the older name sees the folder.
    assert [s.id for s in client.agents.sources.list(agent.id)] == [folder.id]
    client.agents.folders.detach(agent.id, folder.id)
    assert client.agents.folders.list(agent.id) == []
    client.folders.delete(folder.id)
    with pytest.raises(letta_client.core.ApiError) as exc:
        client.sources.retrieve(folder.id)
    assert_api_error(exc.value, 404)
