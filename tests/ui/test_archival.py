"""The agent's archival memory tab: passages inserted, searched, paged and deleted through the
page, each checked against what the API says afterwards."""

from playwright.sync_api import expect

MODEL = "openai/gpt-4o-mini"
EMBEDDING = "openai/text-embedding-3-small"


def make_agent(http, name: str) -> dict:
    r = http.post("/v1/agents/", json={"name": name, "model": MODEL, "embedding": EMBEDDING})
    assert r.status_code == 200, r.text
    return r.json()


def passages(http, agent_id: str) -> list[dict]:
    r = http.get(f"/v1/agents/{agent_id}/archival-memory", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()


def test_archival_insert_search_and_delete(page, ui_url, http, uid, shot):
    agent = make_agent(http, f"archival-{uid}")
    aid = agent["id"]
    other = http.post(
        f"/v1/agents/{aid}/archival-memory", json={"text": f"Penguins {uid} cannot fly but swim well"}
    )
    assert other.status_code == 200, other.text
    page.goto(ui_url + f"#/agents/{aid}/archival")
    listed = page.get_by_role("region", name="Passages")
    expect(listed.locator(".passage")).to_have_count(1)

    text = f"The lighthouse keeper {uid} drinks jasmine tea at dawn"
    form = page.get_by_role("form", name="Insert passage")
    form.get_by_label("Text").fill(text)
    form.get_by_label("Tags").fill("keeper, drinks")
    form.get_by_role("button", name="Insert").click()
    item = listed.locator(".passage", has_text=text)
    expect(item).to_have_count(1)
    expect(item.locator(".tag")).to_have_text(["keeper", "drinks"])
    # Newest first: the new passage heads the list.
    expect(listed.locator(".passage").first).to_contain_text(text)
    stored = [p for p in passages(http, aid) if p["text"] == text]
    assert len(stored) == 1
    assert sorted(stored[0]["tags"]) == ["drinks", "keeper"]

    # The search shows what the API's search answers, in its order, with how each was found.
    query = f"lighthouse keeper {uid} jasmine tea"
    search = page.get_by_role("search", name="Search archival memory")
    search.get_by_label("Query").fill(query)
    search.get_by_role("button", name="Search").click()
    api_results = http.get(
        f"/v1/agents/{aid}/archival-memory/search", params={"query": query}
    ).json()["results"]
    assert any(r["content"] == text for r in api_results)
    results = page.get_by_label("Search results").locator(".passage")
    expect(results).to_have_count(len(api_results))
    expect(results.locator(".passage-text")).to_have_text([r["content"] for r in api_results])
    expect(results.first.locator(".relevance")).to_contain_text(api_results[0]["relevance"]["search_mode"])

    # A tag filter leaves only the tagged passage.
    search.get_by_label("Tags").fill("keeper")
    search.get_by_role("button", name="Search").click()
    expect(results.locator(".passage-text")).to_have_text([text])
    shot(page, "archival")

    item.get_by_role("button", name="Delete").click()
    item.get_by_role("button", name="Click again to confirm").click()
    expect(listed.locator(".passage", has_text=text)).to_have_count(0)
    expect(page.locator(".notice.ok", has_text="Passage deleted")).to_be_visible()
    remaining = passages(http, aid)
    assert [p["text"] for p in remaining] == [f"Penguins {uid} cannot fly but swim well"]


def test_archival_pages_with_load_more(page, ui_url, http, uid):
    agent = make_agent(http, f"archival-pages-{uid}")
    aid = agent["id"]
    for i in range(52):
        r = http.post(f"/v1/agents/{aid}/archival-memory", json={"text": f"fact {i:02d} of {uid}"})
        assert r.status_code == 200, r.text
    page.goto(ui_url + f"#/agents/{aid}/archival")
    listed = page.get_by_role("region", name="Passages")
    expect(listed.locator(".passage")).to_have_count(50)
    expect(listed.locator(".passage").first).to_contain_text(f"fact 51 of {uid}")
    listed.get_by_role("button", name="Load more").click()
    expect(listed.locator(".passage")).to_have_count(52)
    expect(listed.locator(".passage").last).to_contain_text(f"fact 00 of {uid}")
    expect(listed.get_by_role("button", name="Load more")).to_have_count(0)


def test_archival_shows_an_api_error(page, ui_url, http, uid):
    agent = make_agent(http, f"archival-gone-{uid}")
    page.goto(ui_url + f"#/agents/{agent['id']}/archival")
    expect(page.get_by_role("region", name="Passages")).to_contain_text("No passages yet")
    # The agent goes away behind the page's back: the insert fails and the page says why.
    assert http.delete(f"/v1/agents/{agent['id']}").status_code == 200
    form = page.get_by_role("form", name="Insert passage")
    form.get_by_label("Text").fill("too late")
    form.get_by_role("button", name="Insert").click()
    expect(page.locator(".notice.error")).to_contain_text("not found")
    expect(form.get_by_label("Text")).to_have_value("too late")
