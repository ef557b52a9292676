"""Folders (and their older name, sources): CRUD, uploads processed in the background to
`completed` with their text and passages, duplicate names, the upload limit, unreadable
files, agents' attachments, jobs, and what deleting takes along.

The 1.x SDK drives folders, files and agent attachments; `/v1/sources/...`, `/v1/jobs/...`,
`/v1/folders/{id}/passages` and the count, name and metadata routes go over plain HTTP.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import letta_client
import pytest

from _helpers import assert_error_body, assert_http_error, assert_id, make_agent

EMBEDDING = "openai/text-embedding-3-small"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "documents"
MIME = {
    "txt": "text/plain",
    "md": "text/markdown",
    "json": "application/json",
    "csv": "text/csv",
    "pdf": "application/pdf",
}


def make_folder(client: letta_client.Letta, name: str):
    return client.folders.create(name=name, embedding=EMBEDDING)


def upload(client: letta_client.Letta, folder_id: str, name: str, data: bytes | None = None, **kwargs):
    data = (FIXTURES / name).read_bytes() if data is None else data
    mime = MIME.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    return client.folders.files.upload(folder_id, file=(name, data, mime), **kwargs)


def wait_for_file(client: letta_client.Letta, folder_id: str, file_id: str, timeout: float = 30.0):
    """The file once processing ended (`completed` or `error`); fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        f = client.folders.files.retrieve(file_id, folder_id=folder_id)
        if f.processing_status in ("completed", "error"):
            return f
        time.sleep(0.05)
    raise AssertionError(f"file {file_id} still {f.processing_status}")


def job_of(http, file_id: str) -> dict:
    resp = http.get("/v1/jobs/", params={"limit": 1000})
    assert resp.status_code == 200, resp.text
    jobs = [j for j in resp.json() if (j.get("metadata") or {}).get("file_id") == file_id]
    assert len(jobs) == 1, resp.json()
    return jobs[0]


def passages(http, folder_id: str) -> list[dict]:
    resp = http.get(f"/v1/folders/{folder_id}/passages", params={"limit": 1000})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_uploaded_files_are_processed_attached_and_deleted(client, http, uid):
    folder = make_folder(client, f"docs-{uid}")
    assert_id(folder.id, "source")
    assert folder.embedding_config.handle == EMBEDDING
    done = {}
    for name in ["test.txt", "test.md", "test.json", "test.csv"]:
        sent = upload(client, folder.id, name)
        assert_id(sent.id, "file")
        assert sent.processing_status in ("pending", "parsing", "embedding", "completed")
        assert sent.original_file_name == name
        assert sent.file_name == f"docs-{uid}/{name}"
        done[name] = wait_for_file(client, folder.id, sent.id)
    for name, f in done.items():
        assert f.processing_status == "completed", (name, f.error_message)
        assert f.total_chunks and f.chunks_embedded == f.total_chunks, f
        assert f.content is None  # only when asked
        full = client.folders.files.retrieve(f.id, folder_id=folder.id, include_content=True)
        text = (FIXTURES / name).read_text()
        assert full.content == text
        job = job_of(http, f.id)
        assert job["status"] == "completed" and job["completed_at"], job
    listed = client.folders.files.list(folder.id)
    assert {f.id for f in listed} == {f.id for f in done.values()}
    stored = passages(http, folder.id)
    assert stored and all(p["file_id"] in {f.id for f in done.values()} for p in stored)
    assert all(p["source_id"] == folder.id for p in stored)
    # Attach, list both ways, detach.
    agent = make_agent(client, f"reader-{uid}")
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    assert [f.id for f in client.agents.folders.list(agent.id)] == [folder.id]
    resp = http.get(f"/v1/folders/{folder.id}/agents")
    assert resp.status_code == 200 and resp.json() == [agent.id], resp.text
    client.agents.folders.detach(folder.id, agent_id=agent.id)
    assert list(client.agents.folders.list(agent.id)) == []
    # Deleting a file takes its passages; deleting the folder takes the rest.
    txt = done["test.txt"]
    client.folders.files.delete(txt.id, folder_id=folder.id)
    with pytest.raises(letta_client.NotFoundError) as exc:
        client.folders.files.retrieve(txt.id, folder_id=folder.id)
    assert_error_body(exc.value, 404)
    assert all(p["file_id"] != txt.id for p in passages(http, folder.id))
    client.folders.delete(folder.id)
    with pytest.raises(letta_client.NotFoundError):
        client.folders.retrieve(folder.id)
    assert_http_error(http.get(f"/v1/folders/{folder.id}/passages"), 404)
    assert_http_error(http.get(f"/v1/folders/{folder.id}/files/{done['test.md'].id}"), 404)


def test_folders_and_sources_are_one_resource(client, http, uid):
    resp = http.post("/v1/sources/", json={"name": f"src-{uid}", "embedding": EMBEDDING})
    assert resp.status_code == 200, resp.text
    source = resp.json()
    assert_id(source["id"], "source")
    assert client.folders.retrieve(source["id"]).name == f"src-{uid}"
    resp = http.get(f"/v1/folders/name/src-{uid}")
    assert resp.status_code == 200 and resp.json() == source["id"], resp.text
    count = http.get("/v1/sources/count").json()
    assert isinstance(count, int) and count >= 1
    assert count == http.get("/v1/folders/count").json()
    updated = client.folders.update(source["id"], description="renamed", name=f"src2-{uid}")
    assert (updated.name, updated.description) == (f"src2-{uid}", "renamed")
    resp = http.get(f"/v1/sources/{source['id']}")
    assert resp.json()["name"] == f"src2-{uid}"
    assert f"src2-{uid}" in [f.name for f in client.folders.list(name=f"src2-{uid}")]
    # Names are unique.
    resp = http.post("/v1/folders/", json={"name": f"src2-{uid}", "embedding": EMBEDDING})
    assert_http_error(resp, 409)
    sent = upload(client, source["id"], "test.md")
    wait_for_file(client, source["id"], sent.id)
    meta = http.get("/v1/sources/metadata", params={"include_detailed_per_source_metadata": True}).json()
    mine = [s for s in meta["sources"] if s["source_id"] == source["id"]]
    assert mine[0]["file_count"] == 1 and mine[0]["files"][0]["file_id"] == sent.id, meta
    assert mine[0]["total_size"] == (FIXTURES / "test.md").stat().st_size
    resp = http.delete(f"/v1/sources/{source['id']}")
    assert resp.status_code == 200, resp.text
    assert_http_error(http.get(f"/v1/folders/{source['id']}"), 404)


def test_duplicate_names_follow_duplicate_handling(client, http, uid):
    folder = make_folder(client, f"dup-{uid}")
    first = upload(client, folder.id, "test.txt")
    second = upload(client, folder.id, "test.txt")
    assert second.file_name == f"dup-{uid}/test_(1).txt"
    with pytest.raises(letta_client.BadRequestError) as exc:
        upload(client, folder.id, "test.txt", duplicate_handling="error")
    assert_error_body(exc.value, 400)
    skipped = client.folders.files.with_raw_response.upload(
        folder.id, file=("test.txt", b"other", "text/plain"), duplicate_handling="skip"
    )
    assert skipped.headers.get("x-upload-result") == "skipped"
    assert skipped.parse().id == first.id
    replaced = upload(client, folder.id, "test.txt", data=b"new text", duplicate_handling="replace")
    done = wait_for_file(client, folder.id, replaced.id)
    assert done.processing_status == "completed"
    ids = {f.id for f in client.folders.files.list(folder.id)}
    assert replaced.id in ids and first.id not in ids and second.id not in ids
    full = client.folders.files.retrieve(replaced.id, folder_id=folder.id, include_content=True)
    assert full.content == "new text"


def test_uploads_over_the_limit_are_refused(server_factory, tmp_path):
    srv = server_factory(tmp_path / "small", env={"MNEME_MAX_UPLOAD_BYTES": "1000"})
    client = letta_client.Letta(base_url=srv.base_url)
    folder = make_folder(client, "limited")
    with pytest.raises(letta_client.APIStatusError) as exc:
        upload(client, folder.id, "test.md")  # 4.6 kB
    assert_error_body(exc.value, 413)
    assert list(client.folders.files.list(folder.id)) == []
    assert list((tmp_path / "small" / "files").iterdir()) == []
    small = upload(client, folder.id, "test.json")
    assert wait_for_file(client, folder.id, small.id).processing_status == "completed"


def test_unreadable_files_fail_and_the_folder_stays_usable(client, http, uid):
    folder = make_folder(client, f"bad-{uid}")
    with pytest.raises(letta_client.BadRequestError) as exc:
        upload(client, folder.id, "blob.bin", data=os.urandom(256))
    assert_error_body(exc.value, 400)
    broken = upload(client, folder.id, "broken.pdf", data=os.urandom(2048))
    failed = wait_for_file(client, folder.id, broken.id)
    assert failed.processing_status == "error" and failed.error_message, failed
    assert job_of(http, broken.id)["status"] == "failed"
    ok = upload(client, folder.id, "test.txt")
    assert wait_for_file(client, folder.id, ok.id).processing_status == "completed"


def test_jobs_list_cancel_and_delete(client, http, uid):
    folder = make_folder(client, f"jobs-{uid}")
    sent = upload(client, folder.id, "long_test.txt")
    job = job_of(http, sent.id)
    assert_id(job["id"], "job")
    resp = http.get("/v1/jobs/", params={"source_id": folder.id})
    assert [j["id"] for j in resp.json()] == [job["id"]], resp.text
    wait_for_file(client, folder.id, sent.id)
    active = http.get("/v1/jobs/active", params={"source_id": folder.id}).json()
    assert active == []
    resp = http.patch(f"/v1/jobs/{job['id']}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "completed", resp.text
    resp = http.delete(f"/v1/jobs/{job['id']}")
    assert resp.status_code == 200 and resp.json()["id"] == job["id"], resp.text
    assert_http_error(http.get(f"/v1/jobs/{job['id']}"), 404)


def test_cancelling_a_job_stops_its_file_and_drops_its_passages(client, http, fake, uid):
    folder = make_folder(client, f"cancel-{uid}")
    fake.latency(700)  # each batch of embeddings takes this long
    sent = upload(client, folder.id, "memgpt_paper.pdf")
    job = job_of(http, sent.id)
    deadline = time.monotonic() + 60
    while client.folders.files.retrieve(sent.id, folder_id=folder.id).processing_status != "embedding":
        assert time.monotonic() < deadline, "the file never reached embedding"
        time.sleep(0.05)
    resp = http.patch(f"/v1/jobs/{job['id']}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled", resp.text

    done = wait_for_file(client, folder.id, sent.id, timeout=60)
    assert done.processing_status == "error", done
    assert done.error_message == "processing was cancelled"
    assert done.chunks_embedded < done.total_chunks, done
    assert http.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"
    assert [p for p in passages(http, folder.id) if p.get("file_id") == sent.id] == []

    fake.latency(0)
    again = wait_for_file(client, folder.id, upload(client, folder.id, "test.txt").id)
    assert again.processing_status == "completed", "the folder goes on after a cancel"


def test_agents_are_created_and_updated_with_folders(client, http, uid):
    one = make_folder(client, f"one-{uid}")
    two = make_folder(client, f"two-{uid}")
    agent = make_agent(client, f"with-folders-{uid}", folder_ids=[one.id], source_ids=[two.id])
    assert [f.id for f in client.agents.folders.list(agent.id)] == [one.id, two.id]
    assert [s.id for s in agent.sources] == [one.id, two.id]
    read = client.agents.retrieve(agent.id, include=["agent.sources"])
    assert [s.id for s in read.sources] == [one.id, two.id]
    assert client.agents.retrieve(agent.id).sources == []
    client.agents.update(agent.id, folder_ids=[two.id])
    assert [f.id for f in client.agents.folders.list(agent.id)] == [two.id]
    resp = http.get(f"/v1/agents/{agent.id}/sources")
    assert [f["id"] for f in resp.json()] == [two.id], resp.text
    missing = "source-00000000-0000-4000-8000-000000000000"
    with pytest.raises(letta_client.NotFoundError) as exc:
        make_agent(client, f"broken-{uid}", folder_ids=[missing])
    assert_error_body(exc.value, 404)
    assert f"broken-{uid}" not in [a.name for a in client.agents.list(name=f"broken-{uid}")]
    with pytest.raises(letta_client.NotFoundError):
        client.agents.update(agent.id, folder_ids=[one.id, missing])
    assert [f.id for f in client.agents.folders.list(agent.id)] == [two.id]
    # Deleting an attached folder detaches it.
    client.folders.delete(two.id)
    assert list(client.agents.folders.list(agent.id)) == []


def test_files_a_stopped_server_left_unfinished_finish_after_the_restart(server_factory, tmp_path, fake):
    srv = server_factory(tmp_path / "restart")
    client = letta_client.Letta(base_url=srv.base_url)
    http = httpx.Client(base_url=srv.base_url)
    folder = make_folder(client, "interrupted")
    fake.latency(1500)  # every embedding call takes 1.5 s: the file stays `embedding` a while
    sent = upload(client, folder.id, "long_test.txt")
    deadline = time.monotonic() + 10
    while client.folders.files.retrieve(sent.id, folder_id=folder.id).chunks_embedded in (None, 0):
        assert time.monotonic() < deadline, "no batch of the file was embedded"
        time.sleep(0.05)
    srv.stop()
    stray = tmp_path / "restart" / "files" / "file-cut-off-upload"
    stray.write_bytes(b"half an upload")
    fake.latency(0)
    srv.start()
    client = letta_client.Letta(base_url=srv.base_url)
    http = httpx.Client(base_url=srv.base_url)
    f = wait_for_file(client, folder.id, sent.id)
    assert f.processing_status == "completed", f
    mine = [p for p in passages(http, folder.id) if p.get("file_id") == sent.id]
    assert len(mine) == f.total_chunks == f.chunks_embedded, "the first run's passages were not dropped"
    assert not stray.exists(), "a cut-off upload outlived the restart"
    assert job_of(http, sent.id)["status"] == "completed"


def test_a_pdf_is_read_chunked_and_embedded_and_a_damaged_one_fails(client, http, uid):
    folder = make_folder(client, f"papers-{uid}")
    paper = wait_for_file(client, folder.id, upload(client, folder.id, "memgpt_paper.pdf").id, timeout=120)
    assert paper.processing_status == "completed", paper.error_message
    assert paper.total_chunks and paper.chunks_embedded == paper.total_chunks
    full = client.folders.files.retrieve(paper.id, folder_id=folder.id, include_content=True)
    assert "MemGPT: Towards LLMs as Operating Systems" in full.content
    assert any("virtual context management" in p["text"].lower() for p in passages(http, folder.id))

    # The same paper cut in half: an error with a message, and the folder goes on working.
    half = (FIXTURES / "memgpt_paper.pdf").read_bytes()[: 300_000]
    broken = upload(client, folder.id, "half.pdf", data=half)
    broken = wait_for_file(client, folder.id, broken.id, timeout=120)
    assert broken.processing_status == "error" and broken.error_message, broken
    again = wait_for_file(client, folder.id, upload(client, folder.id, "test.md").id)
    assert again.processing_status == "completed"
