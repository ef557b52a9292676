"""The UI's frame: the page loads from the binary alone, navigates by hash, and its Settings
page reaches the server through the public API."""

from playwright.sync_api import expect


def test_the_page_loads_and_every_section_opens(page, ui_url, shot):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(ui_url)
    expect(page.locator(".brand")).to_have_text("mneme")
    for label in ["Tools", "MCP servers", "Folders", "Groups", "Settings", "Agents"]:
        page.get_by_role("link", name=label, exact=True).click()
        expect(page.locator(".sidebar a.active")).to_have_text(label)
        expect(page.locator(".spinner")).to_have_count(0)
    # Offline by construction: nothing was fetched from anywhere but this server.
    origin = ui_url.rstrip("/")
    assert requested and all(u.startswith(origin) for u in requested), requested


def test_settings_shows_the_server_status(page, ui_url, shot):
    page.goto(ui_url + "#/settings")
    expect(page.get_by_text("Server status: ok")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.ok")).to_contain_text("the server answers")


def test_an_unknown_page_says_so(page, ui_url):
    page.goto(ui_url + "#/nowhere")
    expect(page.locator(".main")).to_contain_text("No page at #/nowhere")
