"""The Tools page (custom tools from Python source, the built-ins' schemas) and the MCP servers
page (add one, list its tools, connection errors, delete)."""

import re
import sys
from pathlib import Path

from playwright.sync_api import expect

SERVER_PY = str(Path(__file__).resolve().parents[1] / "mcp" / "server.py")


def source(name: str, extra: str = "") -> str:
    return f'''def {name}(name: str, times: int = 1{extra}) -> str:
    """Greets someone, possibly more than once.

    Args:
        name (str): Who to greet.
        times (int): How many greetings.

    Returns:
        str: The greeting.
    """
    return " ".join(["Hello " + name] * times)
'''


def fill_code(page, text: str) -> None:
    page.get_by_label("Source code").fill(text)


def params(page):
    return page.locator(".tool-detail table.params tbody tr")


def test_a_custom_tool_from_python_source(page, ui_url, http, uid, shot):
    name = f"greet_{uid}"
    page.goto(ui_url + "#/tools")
    page.get_by_role("button", name="New tool").click()
    fill_code(page, source(name))
    page.get_by_label("Tags").fill("greeting, ui")
    page.get_by_role("button", name="Create tool").click()

    expect(page).to_have_url(re.compile(r"#/tools/tool-[^/]+$"))
    expect(page.locator("h2.tool-name")).to_have_text(name)
    expect(page.locator(".tool-description")).to_contain_text("Greets someone")
    expect(params(page)).to_have_count(2)
    expect(page.locator("tr[data-param=name]")).to_contain_text("required")
    expect(page.locator("tr[data-param=times]")).to_contain_text("How many greetings.")
    expect(page.locator(".tool-list a[data-tool-name=%s]" % name)).to_be_visible()
    tool_id = page.url.rsplit("/", 1)[1]
    tool = http.get(f"/v1/tools/{tool_id}").json()
    assert tool["name"] == name and tool["tool_type"] == "custom"
    assert sorted(tool["tags"]) == ["greeting", "ui"]
    assert set(tool["json_schema"]["parameters"]["properties"]) == {"name", "times"}
    shot(page, "tools")

    # Edit the source: the server derives the new schema.
    fill_code(page, source(name, extra=", shout: bool = False").replace(
        "        times (int): How many greetings.\n",
        "        times (int): How many greetings.\n        shout (bool): Whether to shout.\n",
    ))
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.ok", has_text=f"Saved {name}")).to_be_visible()
    expect(params(page)).to_have_count(3)
    expect(page.locator("tr[data-param=shout]")).to_contain_text("Whether to shout.")
    tool = http.get(f"/v1/tools/{tool_id}").json()
    assert "shout" in tool["json_schema"]["parameters"]["properties"]
    assert "shout: bool = False" in tool["source_code"]

    # Delete it.
    page.get_by_role("button", name="Delete tool").click()
    page.get_by_role("button", name="Click again to confirm").click()
    expect(page).to_have_url(re.compile(r"#/tools$"))
    expect(page.locator(".tool-list a[data-tool-name=%s]" % name)).to_have_count(0)
    assert http.get(f"/v1/tools/{tool_id}").status_code == 404


def test_a_tool_the_server_refuses_shows_why(page, ui_url, http, uid):
    bad = "def broken(:\n    pass\n"
    resp = http.post("/v1/tools/", json={"source_code": bad})
    assert 400 <= resp.status_code < 500
    detail = resp.json()["detail"]
    before = http.get("/v1/tools/count").json()
    page.goto(ui_url + "#/tools/new")
    fill_code(page, bad)
    page.get_by_role("button", name="Create tool").click()
    expect(page.get_by_role("alert")).to_contain_text(detail if isinstance(detail, str) else "source")
    expect(page).to_have_url(re.compile(r"#/tools/new$"))
    assert http.get("/v1/tools/count").json() == before


def test_built_in_tools_show_their_schema(page, ui_url):
    page.goto(ui_url + "#/tools")
    page.get_by_label("Filter tools").fill("send_message")
    page.locator(".tool-list a[data-tool-name=send_message]").click()
    expect(page.locator("h2.tool-name")).to_have_text("send_message")
    expect(page.locator("tr[data-param=message]")).to_contain_text("required")
    expect(page.locator(".tool-detail pre.json").first).to_contain_text('"name": "send_message"')
    # The server's own tools are not editable.
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete tool")).to_have_count(0)
    page.get_by_label("Filter tools").fill("core_memory")
    expect(page.locator(".tool-list a[data-tool-name=send_message]")).to_have_count(0)
    expect(page.locator(".tool-list a[data-tool-name=core_memory_append]")).to_be_visible()


def test_add_an_mcp_server_and_list_its_tools(page, ui_url, http, uid, shot):
    page.goto(ui_url + "#/mcp")
    page.get_by_role("button", name="Add server").click()
    form = page.get_by_role("form", name="Add MCP server")
    form.get_by_label("Name", exact=True).fill(f"calc-{uid}")
    form.get_by_label("Transport").select_option("stdio")
    form.get_by_label("Command").fill(sys.executable)
    form.get_by_label("Arguments").fill(SERVER_PY)
    form.get_by_label("Environment").fill(f"GREETING=hi-{uid}")
    form.get_by_role("button", name="Add server").click()

    expect(page).to_have_url(re.compile(r"#/mcp/[^/]+$"))
    server_id = page.url.rsplit("/", 1)[1]
    tools = page.get_by_label(f"Tools of calc-{uid}")
    add = tools.locator(".mcp-tool[data-tool-name=add]")
    expect(add).to_contain_text("Adds two integers.")
    expect(add.locator("tr[data-param=a]")).to_contain_text("integer")
    expect(add.locator("tr[data-param=b]")).to_contain_text("required")
    expect(tools.locator(".mcp-tool[data-tool-name=echo]")).to_be_visible()
    shot(page, "mcp")
    listed = {t["name"] for t in http.get(f"/v1/mcp-servers/{server_id}/tools").json()}
    shown = tools.locator(".mcp-tool").evaluate_all("els => els.map(e => e.dataset.toolName)")
    assert set(shown) == listed and {"add", "echo"} <= listed
    server = next(s for s in http.get("/v1/mcp-servers/").json() if s["id"] == server_id)
    assert server["server_name"] == f"calc-{uid}" and server["mcp_server_type"] == "stdio"
    assert server["command"] == sys.executable and server["args"] == [SERVER_PY]
    assert server["env"] == {"GREETING": f"hi-{uid}"}

    tools.get_by_role("button", name="Refresh tools").click()
    expect(page.locator(".notice.ok", has_text=f"Refreshed calc-{uid}")).to_be_visible()

    row = page.locator(f"tr[data-server-name=calc-{uid}]")
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Click again to confirm").click()
    expect(row).to_have_count(0)
    expect(page).to_have_url(re.compile(r"#/mcp$"))
    assert server_id not in {s["id"] for s in http.get("/v1/mcp-servers/").json()}


def test_an_unreachable_mcp_server_shows_the_connection_error(page, ui_url, http, uid):
    page.goto(ui_url + "#/mcp")
    page.get_by_role("button", name="Add server").click()
    form = page.get_by_role("form", name="Add MCP server")
    form.get_by_label("Name", exact=True).fill(f"gone-{uid}")
    form.get_by_label("URL").fill("http://127.0.0.1:9/mcp")
    form.get_by_label("Other headers").fill("X-Team: mneme")
    form.get_by_role("button", name="Add server").click()

    expect(page).to_have_url(re.compile(r"#/mcp/[^/]+$"))
    server_id = page.url.rsplit("/", 1)[1]
    resp = http.get(f"/v1/mcp-servers/{server_id}/tools")
    assert resp.status_code == 502
    body = resp.json()
    message = body.get("detail") or body["error"]["message"]
    expect(page.get_by_label(f"Tools of gone-{uid}").get_by_role("alert")).to_contain_text(message)
    server = http.get(f"/v1/mcp-servers/{server_id}").json()
    assert server["mcp_server_type"] == "streamable_http" and server["custom_headers"] == {"X-Team": "mneme"}
    http.delete(f"/v1/mcp-servers/{server_id}")
