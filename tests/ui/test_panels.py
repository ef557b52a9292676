"""The conversations tab, the folders pages and the groups pages: what is made through the page
is what the API lists afterwards."""

from pathlib import Path

from playwright.sync_api import expect

MODEL = "openai/gpt-4o-mini"
EMBEDDING = "openai/text-embedding-3-small"
DATA = Path(__file__).resolve().parent / "data"


def make_agent(http, name: str, **extra) -> dict:
    r = http.post("/v1/agents/", json={"name": name, "model": MODEL, **extra})
    assert r.status_code == 200, r.text
    return r.json()


# -- conversations ---------------------------------------------------------------------------


def test_conversations_create_list_and_delete(page, ui_url, http, uid, fake, shot):
    agent = make_agent(http, f"conv-{uid}")
    aid = agent["id"]
    page.goto(ui_url + f"#/agents/{aid}/conversations")
    expect(page.locator(".panel.conversations")).to_contain_text("No conversations yet")

    form = page.get_by_role("form", name="New conversation")
    form.get_by_label("Summary").fill(f"trip plans {uid}")
    form.get_by_role("button", name="New conversation").click()
    # The new conversation opens.
    opened = page.locator(".open-conversation")
    expect(opened.get_by_role("heading", level=3)).to_contain_text(f"trip plans {uid}")
    listed = http.get("/v1/conversations/", params={"agent_id": aid}).json()
    assert [c["summary"] for c in listed] == [f"trip plans {uid}"]
    cid = listed[0]["id"]
    expect(opened).to_have_attribute("data-conversation-id", cid)

    # A message typed in the conversation's chat is answered there and kept in the
    # conversation, not in the agent's default history.
    box = opened.get_by_role("textbox", name="Message")
    box.fill(f"hi {uid}")
    box.press("Enter")
    expect(opened.get_by_role("region", name="Conversation")).to_contain_text(f"echo: hi {uid}")
    msgs = http.get(f"/v1/conversations/{cid}/messages").json()
    assert any(f"hi {uid}" in str(m.get("content")) for m in msgs)
    default = http.get(f"/v1/agents/{aid}/messages", params={"limit": 100}).json()
    assert not any(f"hi {uid}" in str(m.get("content")) for m in default)
    page.get_by_role("button", name="← All conversations").click()
    table = page.get_by_role("table", name="Conversations")
    row = table.locator(f'tr[data-conversation-id="{cid}"]')
    expect(row).to_contain_text(f"trip plans {uid}")
    expect(row.locator("td").nth(3)).not_to_have_text("–")
    shot(page, "conversations")

    # Opening from the list, then deleting.
    row.get_by_role("button", name="Open").click()
    expect(page.locator(".open-conversation")).to_have_attribute("data-conversation-id", cid)
    page.get_by_role("button", name="← All conversations").click()
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Click again to confirm").click()
    expect(page.locator(".panel.conversations")).to_contain_text("No conversations yet")
    assert http.get("/v1/conversations/", params={"agent_id": aid}).json() == []


# -- folders ---------------------------------------------------------------------------------


def drop_file(page, target, name: str, text: str, mime: str) -> None:
    """Drops a file on `target` as a person dragging it from their desktop would."""
    transfer = page.evaluate_handle(
        """([name, text, mime]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, { type: mime }));
            return dt;
        }""",
        [name, text, mime],
    )
    target.dispatch_event("dragover", {"dataTransfer": transfer})
    target.dispatch_event("drop", {"dataTransfer": transfer})


def test_folders_upload_by_picker_and_drop_attach_and_delete(page, ui_url, http, uid, shot):
    agent = make_agent(http, f"folder-user-{uid}", embedding=EMBEDDING)
    page.goto(ui_url + "#/folders")
    form = page.get_by_role("form", name="New folder")
    form.get_by_label("Name").fill(f"docs-{uid}")
    form.get_by_label("Embedding").fill(EMBEDDING)
    form.get_by_label("Description").fill("test documents")
    form.get_by_role("button", name="Create folder").click()
    expect(page.get_by_role("heading", name=f"docs-{uid}")).to_be_visible()
    folder = next(f for f in http.get("/v1/folders/").json() if f["name"] == f"docs-{uid}")
    fid = folder["id"]
    assert folder["description"] == "test documents"
    assert page.url.endswith(f"#/folders/{fid}")

    files = page.get_by_role("table", name="Folder files")
    # Upload 1: the file picker.
    with page.expect_file_chooser() as chooser:
        page.get_by_text("Choose files").click()
    chooser.value.set_files(str(DATA / "philosophical_question.txt"))
    picked = files.locator('tr[data-file-name="philosophical_question.txt"]')
    expect(picked.locator(".status")).to_have_text("completed")
    # Upload 2: dropped on the drop zone.
    drop_file(page, page.get_by_label("Drop files here"), "test.md", (DATA / "test.md").read_text(), "text/markdown")
    dropped = files.locator('tr[data-file-name="test.md"]')
    expect(dropped.locator(".status")).to_have_text("completed")
    listed = http.get(f"/v1/folders/{fid}/files").json()
    assert sorted(f["original_file_name"] for f in listed) == ["philosophical_question.txt", "test.md"]
    assert all(f["processing_status"] == "completed" for f in listed)
    shot(page, "folders")

    # Attach to the agent, see it listed, detach.
    users = page.get_by_role("region", name="Agents using this folder")
    expect(users).to_contain_text("Not attached to any agent.")
    users.get_by_label("Agent to attach").select_option(label=f"folder-user-{uid}")
    users.get_by_role("button", name="Attach").click()
    expect(users.get_by_role("link", name=f"folder-user-{uid}")).to_be_visible()
    assert [f["id"] for f in http.get(f"/v1/agents/{agent['id']}/folders").json()] == [fid]
    assert http.get(f"/v1/folders/{fid}/agents").json() == [agent["id"]]
    users.get_by_role("button", name="Detach").click()
    expect(users).to_contain_text("Not attached to any agent.")
    assert http.get(f"/v1/agents/{agent['id']}/folders").json() == []

    # Delete one file, then the folder.
    dropped.get_by_role("button", name="Delete").click()
    dropped.get_by_role("button", name="Click again to confirm").click()
    expect(dropped).to_have_count(0)
    left = http.get(f"/v1/folders/{fid}/files").json()
    assert [f["original_file_name"] for f in left] == ["philosophical_question.txt"]

    page.get_by_role("link", name="← Folders").click()
    row = page.get_by_role("table", name="Folders").locator(f'tr[data-folder-id="{fid}"]')
    expect(row).to_contain_text(EMBEDDING)
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Click again to confirm").click()
    expect(row).to_have_count(0)
    assert http.get(f"/v1/folders/{fid}").status_code == 404


# -- groups ----------------------------------------------------------------------------------


def test_groups_create_send_and_delete(page, ui_url, http, uid, fake, shot):
    alice = make_agent(http, f"alice-{uid}")
    bob = make_agent(http, f"bob-{uid}")
    page.goto(ui_url + "#/groups")
    page.get_by_role("button", name="New group").click()
    form = page.get_by_role("form", name="New group")
    form.get_by_label("Description").fill(f"pair {uid}")
    form.get_by_label("Manager type", exact=True).select_option("round_robin")
    create = form.get_by_role("button", name="Create group")
    expect(create).to_be_disabled()
    form.get_by_label("Filter agents").fill(uid)
    form.get_by_role("checkbox", name=f"alice-{uid}").check()
    form.get_by_role("checkbox", name=f"bob-{uid}").check()
    create.click()

    expect(page.get_by_role("heading", name=f"pair {uid}")).to_be_visible()
    group = next(g for g in http.get("/v1/groups/").json() if g["description"] == f"pair {uid}")
    assert group["manager_type"] == "round_robin"
    assert sorted(group["agent_ids"]) == sorted([alice["id"], bob["id"]])
    assert page.url.endswith(f"#/groups/{group['id']}")
    head = page.locator(".group-detail .page-head")
    expect(head.get_by_role("link", name=f"alice-{uid}")).to_have_attribute("href", f"#/agents/{alice['id']}/chat")
    expect(head.get_by_role("link", name=f"bob-{uid}")).to_be_visible()

    box = page.get_by_role("form", name="Message the group")
    box.get_by_label("Message to the group").fill(f"hello group {uid}")
    box.get_by_role("button", name="Send").click()
    # Round robin: each agent answers once (the fake echoes), and the reply says who spoke.
    reply = page.get_by_label("Reply")
    answers = reply.locator(".msg-assistant_message")
    expect(answers).to_have_count(2)
    expect(answers.locator(".msg-text")).to_have_text([f"echo: hello group {uid}"] * 2)
    expect(answers.locator(".msg-who")).to_have_text([f"alice-{uid}", f"bob-{uid}"])
    stored = http.get(f"/v1/groups/{group['id']}/messages", params={"limit": 50}).json()
    said = [m for m in stored if m["message_type"] == "assistant_message"]
    assert said, stored
    history = page.get_by_role("region", name="Group messages")
    expect(history.locator(".msg-assistant_message")).to_have_count(len(said))
    # Oldest first: the group's input heads the history.
    expect(history.locator(".msg-line").first).to_contain_text(f"hello group {uid}")
    expect(history.locator(".msg-line").first).to_have_attribute("data-message-type", "user_message")
    shot(page, "groups")

    page.get_by_role("link", name="← Groups").click()
    row = page.get_by_role("table", name="Groups").locator(f'tr[data-group-id="{group["id"]}"]')
    expect(row).to_contain_text("round_robin")
    expect(row.get_by_role("link", name=f"bob-{uid}")).to_be_visible()
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Click again to confirm").click()
    expect(row).to_have_count(0)
    assert http.get(f"/v1/groups/{group['id']}").status_code == 404


def test_a_supervisor_group_needs_its_manager(page, ui_url, http, uid):
    boss = make_agent(http, f"boss-{uid}")
    worker = make_agent(http, f"worker-{uid}")
    page.goto(ui_url + "#/groups")
    page.get_by_role("button", name="New group").click()
    form = page.get_by_role("form", name="New group")
    form.get_by_label("Description").fill(f"team {uid}")
    form.get_by_label("Manager type", exact=True).select_option("supervisor")
    form.get_by_label("Filter agents").fill(f"worker-{uid}")
    form.get_by_role("checkbox", name=f"worker-{uid}").check()
    create = form.get_by_role("button", name="Create group")
    expect(create).to_be_disabled()
    form.get_by_label("Manager agent", exact=True).select_option(label=f"boss-{uid}")
    create.click()
    expect(page.get_by_role("heading", name=f"team {uid}")).to_be_visible()
    group = next(g for g in http.get("/v1/groups/").json() if g["description"] == f"team {uid}")
    assert group["manager_type"] == "supervisor"
    assert group["manager_agent_id"] == boss["id"]
    assert group["agent_ids"] == [worker["id"]]
