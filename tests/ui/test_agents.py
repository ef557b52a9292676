"""The agent list (search, tag filter), the new-agent form, and the agent settings tab (edit,
tools, delete)."""

import re

from playwright.sync_api import expect

MODEL = "openai/gpt-4o-mini"
EMBEDDING = "openai/text-embedding-3-small"
AGENT_URL = re.compile(r"#/agents/(agent-[^/]+)/(\w+)$")


def agent_id_of(page) -> str:
    m = AGENT_URL.search(page.url)
    assert m, page.url
    return m.group(1)


def make_agent(http, name: str, tags: list[str], description: str = "", blocks: dict | None = None) -> dict:
    blocks = blocks or {"human": "Name: Ada", "persona": "I am terse."}
    resp = http.post(
        "/v1/agents/",
        json={
            "name": name,
            "model": MODEL,
            "embedding": EMBEDDING,
            "tags": tags,
            "description": description,
            "memory_blocks": [{"label": k, "value": v} for k, v in blocks.items()],
        },
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def rows(page):
    return page.locator("table.agent-table tbody tr")


def test_create_an_agent_through_the_form(page, ui_url, http, uid, shot):
    page.goto(ui_url)
    page.get_by_role("button", name="New agent").click()
    expect(page.get_by_role("heading", name="New agent")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(f"ada-{uid}")
    page.get_by_label("Model", exact=True).select_option(MODEL)
    page.get_by_label("Embedding", exact=True).select_option(EMBEDDING)
    page.get_by_label("Description").fill("Helps Ada plan her week.")
    page.get_by_role("textbox", name="Tags").fill(f"planner, ui-{uid}")
    page.get_by_label("Block 1 value").fill("Name: Ada. Likes early mornings.")
    page.get_by_label("Block 2 value").fill("I am a terse planning assistant.")
    page.get_by_role("button", name="Add block").click()
    page.get_by_label("Block 3 label").fill("week")
    page.get_by_label("Block 3 value").fill("Monday: dentist")
    page.get_by_label("Block 3 limit").fill("500")
    page.get_by_role("checkbox", name="fetch_webpage").check()
    shot(page, "create-agent")
    page.get_by_role("button", name="Create agent").click()

    expect(page).to_have_url(re.compile(r"#/agents/agent-[^/]+/chat$"))
    expect(page.locator("h1.agent-name")).to_have_text(f"ada-{uid}")
    agent = http.get(f"/v1/agents/{agent_id_of(page)}").json()
    assert agent["name"] == f"ada-{uid}"
    assert agent["description"] == "Helps Ada plan her week."
    assert sorted(agent["tags"]) == sorted(["planner", f"ui-{uid}"])
    assert agent["llm_config"]["handle"] == MODEL
    assert agent["embedding_config"]["handle"] == EMBEDDING
    blocks = {b["label"]: b for b in agent["memory"]["blocks"]}
    assert blocks["human"]["value"] == "Name: Ada. Likes early mornings."
    assert blocks["persona"]["value"] == "I am a terse planning assistant."
    assert blocks["week"]["value"] == "Monday: dentist" and blocks["week"]["limit"] == 500
    # include_base_tools was on: the agent has the memory tools.
    # The chosen tool came along with them.
    assert {"memory_replace", "conversation_search", "fetch_webpage"} <= {t["name"] for t in agent["tools"]}


def test_a_refused_agent_shows_the_server_detail(page, ui_url, http, uid):
    page.goto(ui_url + "#/agents/new")
    page.get_by_label("Name", exact=True).fill(f"bad-{uid}")
    page.get_by_label("Model", exact=True).select_option("__other__")
    page.get_by_label("Model handle").fill("nosuchprovider/nomodel")
    page.get_by_role("button", name="Create agent").click()
    # The same request through the API: the page shows the detail the server answers.
    resp = http.post("/v1/agents/", json={"name": f"bad-{uid}", "model": "nosuchprovider/nomodel"})
    assert 400 <= resp.status_code < 500
    detail = resp.json()["detail"]
    expect(page.get_by_role("alert")).to_contain_text(detail if isinstance(detail, str) else "model")
    expect(page).to_have_url(re.compile(r"#/agents/new$"))
    assert http.get("/v1/agents/", params={"name": f"bad-{uid}"}).json() == []


def test_the_list_searches_by_name_and_filters_by_tag(page, server_factory, shot):
    # A server of its own, so that the list (and its screenshot) holds just these agents.
    srv = server_factory()
    with srv.http() as http:
        make_agent(http, "support-desk", ["support", "prod"], "Answers customer tickets.",
                   {"human": "", "persona": "Friendly and precise.", "policies": "Refunds within 30 days."})
        make_agent(http, "research-assistant", ["research"], "Reads papers and keeps notes.",
                   {"human": "Name: Ada", "persona": "Curious.", "notes": ""})
        make_agent(http, "release-notes-writer", ["docs", "prod"], "Turns merged PRs into release notes.")
        make_agent(http, "support-triage", ["support", "beta"], "Labels incoming issues.")
    page.goto(srv.base_url + "/")
    expect(rows(page)).to_have_count(4)
    # Newest first.
    expect(rows(page).first.locator(".agent-link")).to_have_text("support-triage")
    expect(rows(page).filter(has_text="research-assistant")).to_contain_text("3 blocks")
    expect(rows(page).filter(has_text="research-assistant")).to_contain_text(MODEL)
    shot(page, "agents")

    page.get_by_label("Search agents").fill("research")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator(".agent-link")).to_have_text("research-assistant")
    page.get_by_label("Search agents").fill("nothing-like-this")
    expect(page.get_by_text("No agent matches.")).to_be_visible()
    page.get_by_label("Search agents").fill("")
    expect(rows(page)).to_have_count(4)

    # A tag filters the list; a second one narrows it to agents with both.
    rows(page).filter(has_text="support-desk").locator(".tag", has_text="support").click()
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_label("Tag filter", exact=True)).to_contain_text("support")
    rows(page).filter(has_text="support-desk").locator(".tag", has_text="prod").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator(".agent-link")).to_have_text("support-desk")
    page.get_by_label("all of them").uncheck()
    expect(rows(page)).to_have_count(3)
    page.get_by_label("Remove tag filter prod").click()
    page.get_by_label("Remove tag filter support").click()
    expect(rows(page)).to_have_count(4)

    rows(page).filter(has_text="release-notes-writer").locator(".agent-link").click()
    expect(page.locator("h1.agent-name")).to_have_text("release-notes-writer")


def test_settings_edit_the_agent_and_its_tools(page, ui_url, http, uid, shot):
    agent = make_agent(http, f"edit-{uid}", [f"old-{uid}"])
    page.goto(ui_url + f"#/agents/{agent['id']}/settings")
    form = page.get_by_role("form", name="Agent settings")
    form.get_by_label("Name", exact=True).fill(f"edited-{uid}")
    form.get_by_label("Description").fill("Now with a description.")
    form.get_by_label("Tags").fill(f"new-{uid}, second")
    form.get_by_label("System prompt").fill("You are a test agent.")
    shot(page, "agent-settings")
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.ok", has_text="Saved")).to_be_visible()
    expect(page.locator("h1.agent-name")).to_have_text(f"edited-{uid}")
    got = http.get(f"/v1/agents/{agent['id']}").json()
    assert got["name"] == f"edited-{uid}" and got["description"] == "Now with a description."
    assert sorted(got["tags"]) == sorted([f"new-{uid}", "second"])
    assert got["system"] == "You are a test agent."

    page.get_by_label("Detach conversation_search").click()
    expect(page.locator(".agent-tools tr[data-tool-name=conversation_search]")).to_have_count(0)
    assert "conversation_search" not in {t["name"] for t in http.get(f"/v1/agents/{agent['id']}/tools").json()}
    search = http.get("/v1/tools/", params={"name": "conversation_search"}).json()[0]
    page.get_by_label("Tool to attach").select_option(search["id"])
    page.get_by_role("button", name="Attach").click()
    expect(page.locator(".agent-tools tr[data-tool-name=conversation_search]")).to_have_count(1)
    assert "conversation_search" in {t["name"] for t in http.get(f"/v1/agents/{agent['id']}/tools").json()}


def test_delete_from_settings_removes_the_agent(page, ui_url, http, uid):
    agent = make_agent(http, f"doomed-{uid}", [f"doomed-{uid}"])
    page.goto(ui_url + f"#/agents/{agent['id']}/settings")
    page.get_by_text("Raw agent JSON").click()
    expect(page.locator(".raw-json pre.json")).to_contain_text(agent["id"])
    page.get_by_role("button", name="Delete agent").click()
    page.get_by_role("button", name="Click again to confirm").click()
    expect(page).to_have_url(re.compile(r"#/agents$"))
    expect(page.locator(".notice.ok", has_text=f"Deleted doomed-{uid}")).to_be_visible()
    assert http.get(f"/v1/agents/{agent['id']}").status_code == 404
    page.get_by_label("Search agents").fill(f"doomed-{uid}")
    expect(page.get_by_text("No agent matches.")).to_be_visible()


def test_the_list_pages_with_load_more(page, server_factory):
    srv = server_factory()
    with srv.http() as http:
        for i in range(53):
            resp = http.post("/v1/agents/", json={"name": f"bulk-{i:02d}", "model": MODEL, "memory_blocks": []})
            assert resp.status_code == 200, resp.text
    page.goto(srv.base_url + "/")
    expect(rows(page)).to_have_count(50)
    expect(rows(page).first.locator(".agent-link")).to_have_text("bulk-52")
    page.get_by_role("button", name="Load more").click()
    expect(rows(page)).to_have_count(53)
    expect(rows(page).last.locator(".agent-link")).to_have_text("bulk-00")
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    expect(page.get_by_text("53 agents")).to_be_visible()
