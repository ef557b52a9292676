"""Agent Files (.af) in the UI: import by dropping a file on the agent list and through the
"Import .af" button, export from the settings tab, and a broken file's error."""

import base64
import json
import re
from pathlib import Path

from playwright.sync_api import expect

REPO = Path(__file__).resolve().parents[2]
# A small current-format file exported by Letta: one agent, three blocks, custom tools and a
# conversation (tests/fixtures/agent-files).
FIXTURE = REPO / "tests" / "fixtures" / "agent-files" / "test_basic_agent_with_blocks_tools_messages_v2.af"
MODEL = "openai/gpt-4o-mini"


def file_blocks() -> dict[str, str]:
    doc = json.loads(FIXTURE.read_bytes())
    agent = doc["agents"][0]
    by_id = {b["id"]: b for b in doc["blocks"]}
    return {by_id[i]["label"]: by_id[i]["value"] for i in agent["block_ids"]}


def drop_file(page, selector: str, name: str, data: bytes) -> None:
    """Drags a file over the element and drops it there, as a person's drag and drop does:
    dragenter, dragover, drop, with a DataTransfer holding the file."""
    page.evaluate(
        """([selector, name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: "application/json" }));
            const el = document.querySelector(selector);
            for (const type of ["dragenter", "dragover"]) {
                el.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
            }
            window.__dropTransfer = dt;
        }""",
        [selector, name, base64.b64encode(data).decode()],
    )


def finish_drop(page, selector: str) -> None:
    page.evaluate(
        """(selector) => {
            const dt = window.__dropTransfer;
            document.querySelector(selector).dispatchEvent(
                new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        }""",
        selector,
    )


def agent_id_of(page) -> str:
    m = re.search(r"#/agents/(agent-[^/]+)/chat$", page.url)
    assert m, page.url
    return m.group(1)


def user_messages(http, agent_id: str) -> list[dict]:
    messages = http.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100}).json()
    return [m for m in messages if m["message_type"] == "user_message"]


def assert_imported(page, http, name: str) -> dict:
    expect(page).to_have_url(re.compile(r"#/agents/agent-[^/]+/chat$"))
    expect(page.locator("h1.agent-name")).to_have_text(name)
    agent = http.get(f"/v1/agents/{agent_id_of(page)}").json()
    assert agent["name"] == name
    assert {b["label"]: b["value"] for b in agent["memory"]["blocks"]} == file_blocks()
    return agent


def test_drop_an_agent_file_on_the_list(page, ui_url, http, uid, shot):
    page.goto(ui_url)
    expect(page.get_by_role("heading", name="Agents")).to_be_visible()
    page.get_by_text("Import options").click()
    page.get_by_label("Name", exact=True).fill(f"dropped-{uid}")
    page.get_by_label("Model", exact=True).fill(MODEL)

    drop_file(page, ".agent-list table, .agent-list .empty", FIXTURE.name, FIXTURE.read_bytes())
    expect(page.locator(".drop-zone")).to_be_visible()
    expect(page.locator(".drop-zone")).to_contain_text("Drop the .af file")
    shot(page, "agents-drop")
    finish_drop(page, ".agent-list table, .agent-list .empty")
    expect(page.locator(".drop-zone")).to_have_count(0)

    agent = assert_imported(page, http, f"dropped-{uid}")
    assert agent["llm_config"]["handle"] == MODEL
    assert user_messages(http, agent["id"])  # the file's conversation came along
    expect(page.locator(".notice.ok", has_text=f"Imported {FIXTURE.name}: 1 agent")).to_be_visible()
    # The list shows the imported agent with its blocks.
    page.get_by_role("link", name="Agents", exact=True).click()
    page.get_by_label("Search agents").fill(f"dropped-{uid}")
    row = page.locator("table.agent-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("3 blocks")
    for label in file_blocks():
        expect(row).to_contain_text(label)


def test_import_through_the_button(page, ui_url, http, uid):
    page.goto(ui_url)
    page.get_by_text("Import options").click()
    page.get_by_label("Name", exact=True).fill(f"picked-{uid}")
    page.get_by_label("without messages").check()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import .af").click()
    chooser.value.set_files(str(FIXTURE))
    agent = assert_imported(page, http, f"picked-{uid}")
    # strip_messages: only the system message of the file's history is imported.
    assert user_messages(http, agent["id"]) == []


def test_a_broken_file_shows_the_server_error_and_creates_nothing(page, ui_url, http, uid):
    broken = b'{"agents": [ this is not json'
    before = http.get("/v1/agents/count").json()
    resp = http.post("/v1/agents/import", files={"file": ("broken.af", broken, "application/json")})
    assert resp.status_code == 400
    detail = resp.json()["detail"]

    page.goto(ui_url)
    page.get_by_text("Import options").click()
    page.get_by_label("Name", exact=True).fill(f"broken-{uid}")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import .af").click()
    chooser.value.set_files(files=[{"name": "broken.af", "mimeType": "application/json", "buffer": broken}])
    expect(page.locator(".notice.error")).to_contain_text(detail)
    expect(page).to_have_url(re.compile(r"/(#/?)?$"))

    # A JSON file that is no Agent File, dropped beside the list: the server says why, the page
    # shows it.
    drop_file(page, ".sidebar", "notes.af", b'{"hello": "world"}')
    finish_drop(page, ".sidebar")
    wrong = http.post("/v1/agents/import", files={"file": ("notes.af", b'{"hello": "world"}', "application/json")})
    assert wrong.status_code == 400
    expect(page.locator(".notice.error", has_text=wrong.json()["detail"])).to_be_visible()

    assert http.get("/v1/agents/count").json() == before
    assert http.get("/v1/agents/", params={"name": f"broken-{uid}"}).json() == []


def test_export_from_settings_downloads_the_agent_file(page, ui_url, http, uid):
    agent = http.post(
        "/v1/agents/",
        json={
            "name": f"exported-{uid}",
            "model": MODEL,
            "embedding": "openai/text-embedding-3-small",
            "memory_blocks": [{"label": "human", "value": f"Name: Ada {uid}"}, {"label": "persona", "value": "Terse."}],
        },
    ).json()
    page.goto(ui_url + f"#/agents/{agent['id']}/settings")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export .af").click()
    d = download.value
    assert d.suggested_filename == f"exported-{uid}.af"
    doc = json.loads(Path(d.path()).read_text())
    assert [a["name"] for a in doc["agents"]] == [f"exported-{uid}"]
    assert f"Name: Ada {uid}" in {b["value"] for b in doc["blocks"]}

    # The downloaded file imports again (through the drop zone) as a second agent.
    page.goto(ui_url)
    page.get_by_text("Import options").click()
    page.get_by_label("Name", exact=True).fill(f"reimported-{uid}")
    drop_file(page, ".agent-list", d.suggested_filename, Path(d.path()).read_bytes())
    finish_drop(page, ".agent-list")
    expect(page.locator("h1.agent-name")).to_have_text(f"reimported-{uid}")
    copy = http.get(f"/v1/agents/{agent_id_of(page)}").json()
    assert copy["id"] != agent["id"]
    assert {b["label"]: b["value"] for b in copy["memory"]["blocks"]} == {"human": f"Name: Ada {uid}", "persona": "Terse."}
